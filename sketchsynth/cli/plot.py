"""sketchsynth plot: the comparison figure of a match."""

from __future__ import annotations

import os

import click

from .options import INT


@click.command("plot")
@click.argument("result", type=click.Path())
@click.option("--frame", "frames", type=INT, multiple=True,
              help="Centre frame t (0-based input index); repeat for several. Default: the middle.")
@click.option("--out", "out", type=click.Path(), default=None,
              help="Figure file, .png or .pdf (default RESULT/comparison_<t>.png). With several frames, "
                   "'{t}' in the name is replaced by the frame.")
@click.option("--sheet", "sheet", type=click.Path(), default=None,
              help="Video results: contact sheet file, .png or .jpg (default RESULT/contact_sheet.png).")
@click.option("--force", is_flag=True, help="Overwrite existing figure files (the default files inside a "
                                            "match output folder are always rewritten).")
def command(result, frames, out, sheet, force):
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
    from ..outputs.plot import save_comparison
    from ..outputs.results import load_match_outputs
    from ..io.storage import atomic_file, check_file_target, result_protect
    from ..io.ownership import may_rewrite, record_entry

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
        if not 0 <= t < n:
            raise ParameterError(f"--frame {t} is outside the input (0-{n - 1})")
    # The default figures inside a match output folder are sketchsynth's: rewritten without --force, unless
    # the user put a file of that name there.
    protect = result_protect(result, res["summary"].get("input") if isinstance(res["summary"], dict) else None)
    paths = [(out.replace("{t}", str(t)) if out else os.path.join(result, f"comparison_{t:05d}.png"), t)
             for t in frames]
    if len({os.path.abspath(p) for p, _ in paths}) != len(paths):
        raise ParameterError("--frame is repeated: each figure would overwrite the one before")
    for path, _ in paths:  # every target checked before anything is drawn
        if not path.lower().endswith((".png", ".pdf")):
            raise ParameterError(f"plot file must end in .png or .pdf: {path}")
        check_file_target(path, force=force or (not out and may_rewrite(result, os.path.basename(path))),
                          protect=protect, what="figure")
    for path, t in paths:
        own = not out and may_rewrite(result, os.path.basename(path))
        with atomic_file(path, force=force or own, protect=protect, what="figure") as tmp:
            save_comparison(tmp, res["input"], res["matched"], t, labels=labels,
                            costs=sel["target_cost"].to_numpy(dtype=float),
                            title="input (black) vs match (blue)")
        if not out:
            record_entry(result, os.path.basename(path))
        click.echo(f"Wrote {path}")
    if video_result:
        from ..outputs.contact_sheet import contact_sheet

        click.echo(f"Wrote {contact_sheet(result, list(frames) or None, sheet, force=force)}")
