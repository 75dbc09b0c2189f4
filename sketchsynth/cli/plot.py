"""sketchsynth plot: the comparison figure of a match."""

from __future__ import annotations

import os

import click


@click.command("plot")
@click.argument("result", type=click.Path())
@click.option("--frame", "frames", type=int, multiple=True,
              help="Centre frame t (0-based input index); repeat for several. Default: the middle.")
@click.option("--out", "out", type=click.Path(), default=None,
              help="Figure file, .png or .pdf (default RESULT/comparison_<t>.png). With several frames, "
                   "'{t}' in the name is replaced by the frame.")
@click.option("--sheet", "sheet", type=click.Path(), default=None,
              help="Video results: contact sheet file, .png or .jpg (default RESULT/contact_sheet.png).")
def command(result, frames, out, sheet):
    """Draw input (black) against match (blue) at t-1, t, t+1 from a match RESULT folder.

    For a match on a video input it also draws a contact sheet: input frame,
    input sketch, matched sketch and matched database frame for the same
    frames (--frame; default five spread over the input).

    \b
    Example:
      sketchsynth plot out/sa1 --frame 40 --out sa1_40.pdf
      sketchsynth plot out/video_run --frame 20 --frame 60 --sheet sheet.png
    """
    from ..errors import ParameterError
    from ..plot import save_comparison
    from ..results import load_match_outputs

    res = load_match_outputs(result)
    video_result = os.path.isfile(os.path.join(result, "videos.json"))
    if sheet and not video_result:
        from ..errors import InputError

        raise InputError("--sheet needs a match on a video input (this result has no videos.json)", result)
    n = len(res["input"])
    frames = list(frames) or [n // 2]
    if out and len(frames) > 1 and "{t}" not in out:
        raise ParameterError("several --frame values need '{t}' in --out, e.g. --out fig_{t}.png")
    sel = res["selection"]
    labels = [f"db: {r} frame {int(f)}" if isinstance(r, str) else "no match"
              for r, f in zip(sel["recording"], sel["frame"].fillna(-1))]
    for t in frames:
        path = (out.replace("{t}", str(t)) if out else os.path.join(result, f"comparison_{t:05d}.png"))
        save_comparison(path, res["input"], res["matched"], t, labels=labels,
                        costs=sel["target_cost"].to_numpy(dtype=float),
                        title="input (black) vs match (blue)")
        click.echo(f"Wrote {path}")
    if video_result:
        from ..video_out import contact_sheet

        click.echo(f"Wrote {contact_sheet(result, list(frames) or None, sheet)}")
