"""sketchsynth evaluate: hold part of the recordings out, synthesize it from the rest, compare."""

from __future__ import annotations

import click

from .options import (FLOAT, INT, audio_weight_option, check_audio_weight, force_option, fps_option, metric_option,
                      parse_points, person_option, resolve_smooth, search_options, smoothing_options)


def _floats(text: str, what: str) -> list[float]:
    from ..errors import ParameterError

    try:
        vals = [float(x) for x in text.replace(" ", "").split(",") if x]
    except ValueError:
        raise ParameterError(f"{what}: expected comma-separated numbers like 0.25,0.5,1, got {text!r}") from None
    if any(not v >= 0 for v in vals):
        raise ParameterError(f"{what}: values must be >= 0, got {text!r}")
    return vals


@click.command("evaluate")
@click.argument("recordings", type=click.Path())
@click.option("--out", type=click.Path(), default="out/evaluate", show_default=True,
              help="Report folder (report.md, report.json, lmd_vs_jumps.png).")
@click.option("--holdout", multiple=True, metavar="SPEC",
              help="What to hold out: a recording name (NAME), a range of its frame numbers (NAME:FIRST-LAST), "
                   "or 'each' (every recording in turn, pooled). Repeat for several. Default: the last quarter "
                   "of a single recording, or the last recording.")
@click.option("--guard", type=INT, default=0, show_default=True,
              help="Also keep this many frames on each side of a held-out range out of the database.")
@smoothing_options
@click.option("--smooth-grid", default="0.1,0.25,0.5,1,2", show_default=True,
              help="λ values compared with the per-frame match (λ=0) and the default.")
@click.option("--filters", default="one-euro,savgol", show_default=True,
              help="Input filters tried at the default λ ('' for none).")
@click.option("--db-filter", type=click.Choice(["none", "one-euro", "savgol"]), default="savgol",
              show_default=True, help="Also build a filtered database and compare (none: skip).")
@click.option("--seam-blend", type=INT, default=4, show_default=True, metavar="FRAMES",
              help="Also report the default λ with seam blending over this many frames (0: skip).")
@metric_option
@search_options
@click.option("--mode", type=click.Choice(["affine", "similarity"]), default="affine", show_default=True,
              help="Normalization of the database built for the evaluation.")
@click.option("--anchors", default="35,40,46", show_default=True, help="Normalization anchors (OpenPose 0-based).")
@click.option("--weights", default="default", show_default=True,
              help="Point weights: default (lips 10, eyes 2, others 1), group=value pairs, or 70 numbers.")
@fps_option
@person_option
@force_option
@click.option("--drive", type=click.Choice(["face", "audio", "voices"]), default="face", show_default=True,
              help="face: the held-out face drives the match (above). audio: its sound does, through the speech "
                   "model fitted on the training part; report opening/width r, lag, LMD, jumps (see the docs). "
                   "voices: RECORDINGS are other people's clips driving --db, scored against their own faces.")
@click.option("--db", "db_path", default=None, type=click.Path(), help="--drive voices: the database driven.")
@click.option("--split", "split_spec", default=None, metavar="FILE:SET",
              help="--drive voices: only the clips a JSON file lists under SET.")
@click.option("--voices", type=click.Choice(["auto", "own", "other"]), default="auto", show_default=True,
              help="--drive voices: which speech model reads the sound (auto: chosen by the voice-distance ratio).")
@click.option("--regressor", default=None, metavar="NAME", help="--drive audio: the speech model's regressor "
              "(ridge, knn, or registered); default build-db's.")
@click.option("--lookahead-ms", "--delay-ms", "delay_ms", type=FLOAT, default=None,
              help="--drive audio: the model's look-ahead (default 480).")
@audio_weight_option
def command(recordings, out, holdout, guard, smooth, candidates, join, jump_cost, beam, smooth_grid, filters,
            db_filter, seam_blend, metric, search, nprobe, mode, anchors, weights, fps, person, force, drive,
            regressor, delay_ms, db_path, split_spec, voices, audio_weight):
    """Build a database from part of RECORDINGS, synthesize the held-out rest, and report.

    Compares the per-frame match (λ=0) with Viterbi smoothing at several λ,
    seam blending and jitter filters: jumps per second, mean run length, target
    cost, mouth landmark distance (LMD), whole-face distance, velocity error and
    jitter against the held-out truth. Writes a markdown and a JSON table and a
    plot of LMD against jumps per second.

    With --drive audio, every held-out recording's sound drives the match
    instead (a --holdout of every:8:7 holds out the sorted recordings i with
    i % 8 == 7, GRID s1's fixed split; @FILE lists names one per line).

    With --drive voices, RECORDINGS are clips of other people (a folder, grouped
    by sub-folder, or a list file of GROUP PATH [PIECE_SECONDS] lines): their
    sound drives the database --db and the selected mouth is compared with
    their own tracked mouth (sound files without a face: amplitude only).

    \b
    Examples:
      sketchsynth evaluate ../shared/data/grid_s1/video --drive audio --holdout every:8:7 --out out/eval_speech
      sketchsynth evaluate ../shared/data/henan/keypoints --fps 30 --holdout keypoints:7821-11000
      sketchsynth evaluate ../shared/data/fadg0/keypoints --fps 25 --holdout each --out out/eval_fadg0
      sketchsynth evaluate benchmarks/voices/drivers.txt --drive voices --db db/grid_s1 --split benchmarks/voices/split.json:TEST
    """
    import time

    from ..selection.decode import ViterbiDecoder
    from ..errors import ParameterError
    from ..evaluation.evaluate import default_configs, evaluate, markdown_table, write_report
    from ..sources.load import discover, load_tracks
    from ..layout import parse_weights
    from ..selection.ivf import IVFSearch
    from ..io.storage import check_target
    from ..io.locks import target_lock

    if drive == "voices":
        return _evaluate_voices(recordings, out, db_path, split_spec, voices, smooth, force)
    if drive == "audio":
        return _evaluate_audio(recordings, out, holdout, smooth, smooth_grid, metric, mode, anchors, weights, fps,
                               person, force, regressor, delay_ms, check_audio_weight(audio_weight))
    ivf = None if nprobe is None else IVFSearch(nprobe=nprobe).check()
    smooth = resolve_smooth(smooth, "face")
    ViterbiDecoder(smooth=smooth, candidates=candidates, join=join, jump_cost=jump_cost, beam=beam).check()
    if seam_blend < 0:
        raise ParameterError(f"--seam-blend must be a whole number of frames >= 0, got {seam_blend}")
    configs = default_configs(smooth, jump_cost, _floats(smooth_grid, "--smooth-grid"),
                              [f for f in filters.replace(" ", "").split(",") if f], seam_blend, db_filter)
    for c in configs:
        c.join = join
    for f in (c.input_filter for c in configs):
        if f not in ("none", "one-euro", "savgol"):
            raise ParameterError(f"--filters: unknown filter {f!r} (use one-euro, savgol)")
    db_params = {"weights": parse_weights(weights), "mode": mode, "anchors": parse_points(anchors, "--anchors"),
                 "person": person}
    t0 = time.perf_counter()
    from ..errors import InputError

    protect = [(recordings, "the recordings")]
    check_target(out, force=force, protect=protect, kind="evaluate", error=InputError)  # before the work
    with target_lock(out, error=InputError):
        tracks = load_tracks(discover(recordings), fps=fps, person=person)
        report = evaluate(tracks, list(holdout) or None, configs, metric=metric, candidates=candidates, guard=guard,
                          db_params=db_params, beam=beam, progress=click.echo, search=search, ivf=ivf)
        paths = write_report(out, report, force=force, title=str(recordings), protect=protect)
    click.echo(markdown_table(report))
    click.echo(f"Evaluated {len(configs)} configurations on {report.rows[0]['frames']} held-out frames in "
               f"{time.perf_counter() - t0:.1f} s. Wrote {paths['markdown']}, {paths['json']} and {paths['plot']}.")


def _evaluate_audio(recordings, out, holdout, smooth, smooth_grid, metric, mode, anchors, weights, fps, person, force,
                    regressor, delay_ms, audio_weight):
    import time

    from ..errors import InputError
    from ..layout import parse_weights
    from ..sources.load import discover, load_tracks
    from ..evaluation.speech import evaluate_speech, markdown_table, write_report
    from ..targets.speech.model import SpeechModel
    from ..io.storage import check_target
    from ..io.locks import target_lock

    model = {}
    if regressor is not None:
        model["regressor"] = regressor
    if delay_ms is not None:
        model["delay_ms"] = delay_ms
    if model:
        SpeechModel(**model).check()
    db_params = {"weights": parse_weights(weights), "mode": mode, "anchors": parse_points(anchors, "--anchors"),
                 "person": person}
    t0 = time.perf_counter()
    protect = [(recordings, "the recordings")]
    check_target(out, force=force, protect=protect, kind="evaluate", error=InputError)  # before the work
    with target_lock(out, error=InputError):
        tracks = load_tracks(discover(recordings), fps=fps, person=person, progress=True)
        report = evaluate_speech(tracks, list(holdout) or None, _floats(smooth_grid, "--smooth-grid"),
                                 default_smooth=smooth, model_params=model or None, db_params=db_params,
                                 audio_weight=audio_weight,
                                 metric=metric, progress=click.echo)
        paths = write_report(out, report, force=force, title=str(recordings), protect=protect)
    click.echo(markdown_table(report))
    click.echo(f"Evaluated speech-driven synthesis on {report.rows[0]['frames']} held-out frames in "
               f"{time.perf_counter() - t0:.1f} s. Wrote {paths['markdown']}, {paths['json']} and {paths['plot']}.")


def _evaluate_voices(drivers, out, db_path, split_spec, voices, smooth, force):
    import time

    from ..database.frame_database import FrameDatabase
    from ..errors import InputError, ParameterError
    from ..evaluation.voices import evaluate_voices, load_drivers, markdown_table, split_names, write_report
    from ..io.locks import target_lock
    from ..io.storage import check_target

    if db_path is None:
        raise ParameterError("--drive voices needs --db DIR: the database the voices drive")
    t0 = time.perf_counter()
    protect = [(drivers, "the drivers"), (db_path, "the database")]
    check_target(out, force=force, protect=protect, kind="evaluate", error=InputError)  # before the work
    names = split_names(split_spec)
    with target_lock(out, error=InputError):
        db = FrameDatabase.load(db_path)
        clips = load_drivers(drivers, names, progress=click.echo)
        report = evaluate_voices(db, clips, voices, resolve_smooth(smooth, "audio"), progress=click.echo)
        paths = write_report(out, report, force=force, title=str(drivers), protect=protect)
    click.echo(markdown_table(report))
    click.echo(f"Drove {db_path} by {len(clips)} clips in {time.perf_counter() - t0:.1f} s. Wrote {paths['markdown']} "
               f"and {paths['json']}.")
