"""sketchsynth build-db: recordings -> frame database."""

from __future__ import annotations

import time

import click

from .options import (FLOAT, INT, db_option, force_option, fps_option, parse_points, person_option, tracker_kwargs,
                      video_options)


@click.command("build-db")
@click.argument("recordings", type=click.Path())
@db_option
@fps_option
@force_option
@person_option
@click.option("--mode", type=click.Choice(["affine", "similarity"]), default="affine", show_default=True,
              help="Normalization: the method's three-anchor affine map, or a similarity fit on stable points.")
@click.option("--anchors", default="35,40,46", show_default=True,
              help="Normalization anchors (OpenPose 0-based); the first goes to the origin.")
@click.option("--stable-points", default=None, help="Points of the similarity fit (default: nose and eye corners).")
@click.option("--anchor-min-confidence", type=FLOAT, default=0.2, show_default=True,
              help="Frames with an anchor below this confidence are kept but marked unusable.")
@click.option("--max-gap", type=INT, default=3, show_default=True,
              help="Interpolate points missing for at most this many consecutive frames.")
@click.option("--workers", type=INT, default=None,
              help="Threads reading JSON, processes tracking videos (default: all cores).")
@click.option("--filter", "track_filter", type=click.Choice(["none", "one-euro", "savgol"]), default="none",
              show_default=True, help="Temporal filter against tracker jitter, applied to every recording before "
                                      "normalization (keypoints.npy keeps the points as read).")
@click.option("--fit-gate", type=click.Choice(["auto", "on", "off"]), default="auto", show_default=True,
              help="Mark frames whose landmarks cannot fit (head turned, shape implausible against the "
                   "recordings' own shape statistics, low confidence, weak detection) unusable; auto: all tests "
                   "for video, the confidence test for keypoints.")
@click.option("--index", "index_kind", type=click.Choice(["auto", "flat", "ivfpq", "ivfsq8"]), default="auto",
              show_default=True,
              help="The search index: flat (exact, 560 bytes per frame), or compressed -- IVF with product "
                   "quantization (43 bytes per frame) or 8-bit scalar quantization (148) -- trained on a sample; "
                   "auto: ivfpq from 500,000 usable frames on.")
@click.option("--scheduler", default=None, metavar="ADDRESS",
              help="Track and read the recordings on a Dask cluster: tcp://HOST:PORT of a running scheduler, "
                   "or local:N for N local worker processes (needs the dask extra).")
@click.option("--features", default="log-mel", show_default=True, metavar="NAME",
              help="Speech feature extractor the recordings' sound is analysed with (the speech model reads it; "
                   "a driving sound goes through the same one): log-mel, or one registered in the "
                   "'sketchsynth.features' entry-point group (log-mel-cmvn: speaker-normalized).")
@click.option("--lookahead-ms", type=FLOAT, default=480.0, show_default=True,
              help="Sound after a frame the speech model may use to predict its mouth: 120 for sketchsynth live "
                   "(a quarter-second delay; opening r 0.859 against 0.865 on GRID), 480 for the best batch match.")
@click.option("--other-voices/--own-voice-only", default=True, show_default=True,
              help="Also fit the speech model for other people's voices (a speaker-normalized front end; "
                   "chosen per input by how far its voice lies from the recorded speaker's).")
@video_options
def command(recordings, db_path, fps, force, person, mode, anchors, stable_points, anchor_min_confidence, max_gap,
            workers, track_filter, fit_gate, index_kind, scheduler, features, lookahead_ms, other_voices, video_opts):
    """Build a frame database from RECORDINGS.

    RECORDINGS is one recording or a folder of them: folders of OpenPose JSON
    (one *_keypoints.json per frame), .npy/.npz 68- or 70-point landmark arrays,
    or videos. Every frame is kept in the frame table; frames without a face or
    with low-confidence anchors are marked unusable and never matched.

    \b
    Examples:
      sketchsynth build-db ../shared/data/henan/keypoints --fps 30 --db db/henan
      sketchsynth build-db studio/ --db db/studio --scheduler tcp://10.0.0.5:8786
      sketchsynth build-db me/ --db db/me --lookahead-ms 120    # for sketchsynth live
    """
    from ..database.frame_database import FrameDatabase
    from ..layout import DEFAULT_STABLE_POINTS
    from ..io.locks import target_lock
    from ..io.storage import check_target
    from ..pipeline.build import build_database

    t0 = time.perf_counter()
    db = FrameDatabase(mode=mode, anchors=parse_points(anchors, "--anchors"),
                       stable_points=parse_points(stable_points, "--stable-points") or DEFAULT_STABLE_POINTS,
                       anchor_min_confidence=anchor_min_confidence, max_gap=max_gap, person=person, fps=fps,
                       n_workers=workers, track_filter=track_filter, fit_gate=fit_gate, index=index_kind,
                       features=features)
    db.check_params()
    from ..targets.speech.model import SpeechModel

    SpeechModel(delay_ms=lookahead_ms).check()  # a bad value fails now, not after minutes of tracking
    # Hold the lock for the whole build, so a second build of the same target fails at once.
    protect = [(recordings, "the recordings")]
    check_target(db_path, force=force, protect=protect, kind="database")  # before minutes of reading
    with target_lock(db_path):
        build_database(recordings, db_path, db, progress=True, video_options=tracker_kwargs(video_opts),
                       force=force, protect=protect, scheduler=scheduler, speech_params={"delay_ms": lookahead_ms},
                       other_voices=other_voices)
        path = db.path_
    click.echo(f"Wrote {path} in {time.perf_counter() - t0:.1f} s: {db.summary()}")
    from ..database.sound import little_sound_warning

    warning = little_sound_warning(db.manifest_)
    if warning:
        click.echo(f"sketchsynth: warning: {warning}", err=True)
