"""sketchsynth match: pick a database frame for every input frame."""

from __future__ import annotations

import contextlib
import os

import click

from .options import (INT, audio_weight_option, check_audio_weight, check_expectations, db_option, expect_options,
                      filter_option, force_option, fps_option, metric_option, person_option, resolve_smooth,
                      search_options, smoothing_options, tracker_kwargs, video_options)


@click.command("match")
@click.argument("input_path", metavar="INPUT", type=click.Path())
@db_option
@click.option("--out", "out", type=click.Path(), default=None,
              help="Output folder (default: out/<input name>).")
@metric_option
@click.option("-k", "--prefilter-k", "k", type=INT, default=None,
              help="FAISS candidates per frame, re-ranked with the exact metric [default: 256; 512 through a "
                   "database's compressed index].")
@search_options
@click.option("--exhaustive", is_flag=True,
              help="Search every database frame exactly (slower; the prefilter agrees on >99.5% of frames).")
@click.option("--plot-frame", "plot_frames", type=INT, multiple=True,
              help="Input frame index (0-based) for a comparison figure; repeat for several. Default: middle.")
@fps_option
@person_option
@force_option
@video_options
@click.option("--sketch-layout", type=click.Choice(["side-by-side", "overlay"]), default="side-by-side",
              show_default=True, help="sketch.mp4 shows input and match side by side or overlaid.")
@click.option("--audio", type=click.Path(), default=None,
              help="Sound for the output videos (wav, mp3, a video...) instead of the input video's own; with "
                   "keypoint input it makes sketch.mp4 be written. It starts with the first input frame.")
@click.option("--frames", "frames_mode", default="composite", show_default=True, metavar="RENDERER",
              help="frames.mp4: the chosen mouths pasted into one continuous background take (composite), the "
                   "chosen frames under a smooth zooming camera that never shows a border (full), each frame "
                   "warped onto the input's head (warp), or a renderer registered in the 'sketchsynth.renderers' "
                   "entry-point group.")
@click.option("--background", type=click.Choice(["auto", "input"]), default="auto", show_default=True,
              help="--frames composite: the database take whose head motion fits the input best, or the input "
                   "video itself (dubbing).")
@click.option("--blend", type=click.Choice(["feather", "poisson"]), default="feather", show_default=True,
              help="--frames composite: feathered alpha or Poisson (seamless clone) blending.")
@click.option("--pose-weight", type=float, default=None, metavar="W",
              help="--frames composite with --background auto: how much a chosen frame's head pose must fit the "
                   "background take's (0: not at all) [default: 0.25, less for a database under 50 s].")
@click.option("--pose-join-weight", type=float, default=None, metavar="W",
              help="--frames composite with --background auto: how much a head-pose jump between two joined "
                   "frames costs (0: nothing) [default: 0.25].")
@click.option("--retarget", type=click.Choice(["auto", "on", "off"]), default="auto", show_default=True,
              help="A face input: match the driver's expression carried onto the database speaker's face (their "
                   "own median face replaced by the speaker's, their motion scaled to the speaker's) instead of "
                   "their keypoints as they are; auto: when the driver is another person.")
@click.option("--sketch-video", is_flag=True, help="Write sketch.mp4 for keypoint input too (silent without --audio).")
@smoothing_options
@audio_weight_option
@click.option("--seam-blend", type=INT, default=0, show_default=True, metavar="FRAMES",
              help="Blend each remaining jump away over this many frames in the written keypoints "
                   "(the selection does not change).")
@filter_option
@expect_options
@click.option("--drive", type=click.Choice(["auto", "face", "audio"]), default="auto", show_default=True,
              help="What drives the match: the input's face, or its sound (the database's fitted speech model "
                   "predicts the mouth; a video's face is then ignored). auto: audio files -> audio, else face.")
@click.option("--stage", "stage_names", multiple=True, metavar="NAME[:KEY=VALUE,...]",
              help="Use this registered stage (built in, or from the 'sketchsynth.stages' entry-point group), "
                   "made with these options, in place of the built-in stages spanning its input to its output "
                   "kind. Repeatable. Example: --stage speech-target:audio_weight=0.25")
def command(input_path, db_path, out, metric, k, search, nprobe, exhaustive, plot_frames, fps, person, force,
            video_opts, sketch_layout, audio, frames_mode, background, blend, sketch_video, smooth, candidates, join,
            jump_cost, beam, audio_weight, seam_blend, track_filter, expect_weights, expect_normalization, drive,
            stage_names, pose_weight, pose_join_weight, retarget):
    """Match INPUT against the database: the best database frame sequence for it.

    With --smooth 0 every input frame gets its nearest database frame on its
    own (the method's per-frame match). Otherwise the whole sequence is chosen
    at once (Viterbi), trading target cost against join cost, so the output
    plays recorded stretches instead of hopping between moments every frame.

    INPUT is a folder of OpenPose JSON, a .npy/.npz landmark array or a video
    (tracked first; then sketch.mp4 and, when the database has recorded video,
    frames.mp4 are written too, with the input's audio). Writes
    OUT/selection.csv (input_frame, db_index, recording, frame, target_cost,
    join_cost, is_jump), the matched keypoints as OpenPose JSON in the input's
    image coordinates (OUT/matched/), and a comparison figure.

    INPUT may also be speech (wav, flac, mp3, m4a..., any rate and channels),
    or a video with --drive audio: the database's speech model (fitted by
    build-db on recordings with sound, or by fit-speech) predicts the jaw and
    lips, and the same decoder picks recorded frames for them. The outputs are
    then in the selected frames' own pixels; sketch.mp4 shows the selected
    frame with the predicted mouth (black) beside the match (blue), and both
    videos carry the driving sound, at the database's frame rate.

    \b
    Example:
      sketchsynth match speech.wav --db db/grid --out out/speech
      sketchsynth match input.mp4 --drive audio --db db/grid
      sketchsynth match ../shared/data/fadg0/keypoints/sa1 --db db/example --out out/sa1
      sketchsynth match ../shared/data/fadg0/keypoints/sa1 --db db/example --smooth 0   # per-frame
      sketchsynth match ../shared/data/fadg0/keypoints/sa1 --audio ../shared/data/fadg0/audio/sa1.wav
      sketchsynth match examples/grid_s1/inputs/bbas1s.mp4 --db db/example-video --frames full
      sketchsynth match another_person.mp4 --db db/example-video --retarget on
    """
    from ..database.frame_database import FrameDatabase
    from ..database.sound import AUDIO_EXTENSIONS
    from ..errors import InputError, ParameterError
    from ..io.storage import check_target
    from ..outputs.results import OutputFolder
    from ..outputs.synthesis import describe
    from ..outputs.video import check_frames_options
    from ..pipeline.registry import stage_from_spec
    from ..pipeline.stages import KeypointSource, Selector, Writer, audio_pipeline, keypoint_pipeline
    from ..selection.decode import ViterbiDecoder
    from ..selection.candidates import COMPRESSED_PREFILTER_K
    from ..selection.search import check_metric
    from ..selection.ivf import IVFSearch

    check_metric(metric)
    if k is not None and k < 1:
        raise ParameterError(f"-k must be >= 1, got {k}")
    if seam_blend < 0:
        raise ParameterError(f"--seam-blend must be a whole number of frames >= 0, got {seam_blend}")
    ivf = None if nprobe is None else IVFSearch(nprobe=nprobe).check()
    check_audio_weight(audio_weight)
    if drive == "auto":
        drive = "audio" if str(input_path).lower().endswith(AUDIO_EXTENSIONS) else "face"
    decoder = ViterbiDecoder(smooth=resolve_smooth(smooth, drive), candidates=candidates, join=join,
                             jump_cost=jump_cost, beam=beam).check()
    if audio is not None:
        from ..io.video import probe_audio

        probe_audio(audio)  # before tracking or matching: a bad file fails at once
    check_frames_options(frames_mode, background, blend)
    for name, w in (("--pose-weight", pose_weight), ("--pose-join-weight", pose_join_weight)):
        if w is not None and not (0 <= w < float("inf")):
            raise ParameterError(f"{name} must be a number >= 0, got {w}")
    if drive == "audio" and os.path.isdir(input_path):
        raise ParameterError(f"--drive audio needs a sound file or a video, not the folder {input_path}")
    db = FrameDatabase.load(db_path)
    check_expectations(db, expect_weights, expect_normalization)
    decoder.check(db)
    if k is not None and k > db.n_usable_:
        raise ParameterError(f"-k {k} is larger than the database's {db.n_usable_} usable frames; use at most "
                             f"{db.n_usable_} (or --exhaustive for the exact minimum)")
    from ..database.sound import little_sound_warning

    if drive == "audio":
        from ..targets.speech.model_store import require_model

        require_model(db)
    warning = little_sound_warning(db.manifest_) if drive == "audio" else None  # said once the match is done
    out = out or os.path.join("out", os.path.splitext(os.path.basename(os.path.normpath(input_path)))[0])
    protect = [(input_path, "the match input"), (audio, "the --audio file"), (db.path_, "the database being read")]
    check_target(out, force=force, protect=protect, kind="match", error=InputError)  # before the work

    folder = OutputFolder(out, force=force, protect=protect)
    opened = []

    def before(stage, x):
        # the output folder opens once the input is read (a bad input leaves nothing behind), and with a face
        # input before the match, so that matched/'s files are created while it runs
        if stage.input_kind == "keypoints":
            k_max = k or COMPRESSED_PREFILTER_K  # the widest default, whichever prefilter is taken
            if min(k_max, db.n_usable_) * len(x) * 24 > 4 << 30:  # candidate rows, costs and FAISS distances
                raise ParameterError(f"-k {k_max} x {len(x)} input frames needs more than 4 GB of candidates; use "
                                     "a smaller -k, or --exhaustive (which needs none)")
        if not opened and stage.input_kind in ("keypoints", "selection"):
            opened.append(stack.enter_context(folder))
            if stage.input_kind == "keypoints":
                folder.precreate(x)

    # A composite video on a database take plans that take with the selection, weighing head poses against it.
    planned = frames_mode == "composite" and background == "auto"
    selector = Selector(decoder, metric=metric, k=k, search=search, ivf=ivf, exhaustive=exhaustive,
                        pose_weight=("auto" if pose_weight is None else pose_weight) if planned else None,
                        pose_join_weight=pose_join_weight)
    extra = {"drive": drive}
    writer = Writer(out, force=force, plot_frames=plot_frames, sketch_layout=sketch_layout, audio=audio,
                    sketch_video=sketch_video, progress=True, protect=protect, frames_mode=frames_mode,
                    background=background, blend=blend, seam_blend=seam_blend, folder=folder, summary_extra=extra)
    if drive == "audio":
        pipe = audio_pipeline(selector, writer, audio_weight=audio_weight)
    else:
        source = KeypointSource(fps=fps, person=person, video_options=tracker_kwargs(video_opts), progress=True)
        pipe = keypoint_pipeline(source, selector, writer, track_filter=track_filter, retarget=retarget)
    for name in stage_names:
        pipe.replace(stage_from_spec(name))
    extra["pipeline"] = pipe.names()
    with contextlib.ExitStack() as stack:
        syn = pipe.fit(db).run(input_path, before=before)
    for line in describe(db, syn, out):
        click.echo(line)
    if warning:
        click.echo(f"sketchsynth: warning: {warning}", err=True)
