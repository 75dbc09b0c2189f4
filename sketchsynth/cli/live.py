"""sketchsynth live: speech in (microphone or a file), the face speaking it out as it is spoken."""

from __future__ import annotations

import click

from .options import FLOAT, db_option


@click.command("live")
@db_option
@click.option("--input", "input_path", default=None, metavar="FILE",
              help="A sound file (or a video's sound) instead of the microphone.")
@click.option("--face", default=None, metavar="VIDEO|CAMERA",
              help="Drive with a face instead of speech: a webcam's number (0: the first) or a video file.")
@click.option("--retarget", type=click.Choice(["auto", "on", "off"]), default="auto", show_default=True,
              help="--face: follow the face's expression carried onto the database speaker's face (auto: when it is "
                   "another person, judged from its first second on), as sketchsynth match --retarget.")
@click.option("--realtime/--fast", default=False, show_default=True,
              help="--input or a --face file: feed it at the pace it plays (as a microphone or a webcam would), or "
                   "as fast as possible.")
@click.option("--lookahead-ms", type=FLOAT, default=120.0, show_default=True,
              help="Sound after a frame its mouth may depend on; the database's speech model must be fitted with "
                   "it (sketchsynth fit-speech --lookahead-ms).")
@click.option("--lag-ms", type=FLOAT, default=80.0, show_default=True,
              help="Longest wait of the smooth decoder before it commits to a frame.")
@click.option("--closure-weight", type=FLOAT, default=None,
              help="How far the mouth closes where the sound says b, p or m (0-1, 0 = not at all) "
                   "[default: the speech target's, 1].")
@click.option("--playout-ms", type=FLOAT, default=300.0, show_default=True,
              help="Delay of the display (and of the sound in --out) after the sound was spoken.")
@click.option("--frames", "render", type=click.Choice(["sketch", "composite", "frames"]), default="sketch",
              show_default=True,
              help="Draw the sketch; or show real frames: the chosen mouths pasted into one real take that plays on "
                   "(composite), or the chosen recorded frames themselves (frames). Real frames are read into "
                   "memory at start.")
@click.option("--pose-weight", type=FLOAT, default=None, metavar="W",
              help="--frames composite: how much a chosen frame's head pose must fit the background take's "
                   "(0: not at all) [default: 0.25, less for a database under 50 s].")
@click.option("--show/--no-show", default=None,
              help="Show the face in a window [default: when a display exists].")
@click.option("--virtual-camera", is_flag=True,
              help="Also send what is shown to a virtual webcam other programs can use (pyvirtualcam, the "
                   "'virtualcam' extra; on Linux a v4l2loopback device).")
@click.option("--out", "out_path", default=None, metavar="FILE.mp4",
              help="Also write what was shown, with the sound in sync (H.264 + AAC).")
@click.option("--seconds", type=FLOAT, default=None,
              help="Microphone or webcam: stop after this long [default: Ctrl-C].")
@click.option("--device", default=None, help="Microphone: a sounddevice input device (name or number).")
def command(db_path, input_path, face, retarget, realtime, lookahead_ms, lag_ms, closure_weight, playout_ms, render,
            pose_weight, show, virtual_camera, out_path, seconds, device):
    """Speak (or play a file, or face a webcam) and watch the database's face do it, about a quarter of a second
    later.

    The microphone needs the 'live' extra (sounddevice; on Debian also
    libportaudio2). The speech model must look ahead --lookahead-ms. With
    --face the database's recorded frames follow a face's expression
    (tracked as sketchsynth match tracks a video).

    \b
    Examples:
      sketchsynth fit-speech --db db/grid --lookahead-ms 120   # once: the live speech model
      sketchsynth live --db db/grid                            # microphone, window
      sketchsynth live --db db/grid --frames composite         # the real face instead of the sketch
      sketchsynth live --db db/grid --input s.wav --realtime --out shown.mp4
      sketchsynth live --db db/grid --face 0 --virtual-camera  # webcam in, virtual webcam out
      sketchsynth live --db db/grid --face clip.mp4 --realtime --out shown.mp4
    """
    import os
    import time

    import numpy as np

    from ..database.frame_database import FrameDatabase
    from ..errors import ParameterError
    from ..live.player import Microphone, Player, file_chunks, run

    if face is not None and input_path is not None:
        raise ParameterError("--face and --input are two different drives; give one of them")
    if not (0 <= playout_ms <= 10000):
        raise ParameterError(f"--playout-ms must be within 0-10000, got {playout_ms}")
    if seconds is not None and not seconds > 0:
        raise ParameterError(f"--seconds must be > 0, got {seconds}")
    if out_path is not None:
        _check_out(out_path)
    if virtual_camera:
        from ..live.camera import VirtualCamera

        VirtualCamera.require()
    db = FrameDatabase.load(db_path)
    if show is None:
        show = bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")) or os.name == "nt"
    shown_as = render  # what --out writes; the loop renders only for a window or a virtual camera
    render = render if show or virtual_camera else "none"
    y = src = mic = None
    if face is not None:
        from ..live.camera import VideoSource
        from ..live.face import FaceEngine

        src = VideoSource(face, seconds).open()
        y = _video_sound(db, src.path_)
        engine = FaceEngine(db, input_fps=src.fps_, lag_ms=lag_ms, render=render, retarget=retarget,
                            pose_weight=pose_weight, composite=shown_as == "composite").start()
        fps, push = src.fps_, engine.push_frame
    else:
        from ..live.engine import LiveEngine

        if input_path is not None:
            from ..pipeline.stages import AudioSource

            y = AudioSource().fit(db).transform(input_path).samples
        engine = LiveEngine(db, lookahead_ms=lookahead_ms, lag_ms=lag_ms, render=render,
                            closure_weight=closure_weight, pose_weight=pose_weight,
                            composite=shown_as == "composite").start()
        fps, push = engine.fps, None
    # a file fed as fast as possible has no latency to speak of; a microphone or a camera always does
    paced = realtime or (input_path is None and (src is None or src.path_ is None))
    sinks = None
    try:
        sinks = _Sinks(show, virtual_camera, engine.frames_.size_, fps)
        if src is not None:
            start = time.perf_counter() + 0.05
            chunks = src.start(realtime, start)
            if src.path_ is None:
                click.echo("Watching the camera; Ctrl-C to stop.", err=True)
        elif y is None:
            mic = Microphone(device, seconds)
            chunks = mic.start()
            start = mic.t0_
            click.echo("Listening; Ctrl-C to stop.", err=True)
        else:
            start = time.perf_counter() + 0.05
            chunks = file_chunks(y, realtime, start)
        player = Player(fps, playout_ms).start(start)
        try:
            n = run(engine, chunks, start, player, sinks.show if sinks.any else None, push, drain=paced)
        except KeyboardInterrupt:
            if mic is None and (src is None or src.path_ is not None):
                raise
            (mic or src).stop()
            n = run(engine, chunks, start, player, push=push)
    finally:
        for live_input in (mic, src):
            if live_input is not None:
                live_input.stop()
        if sinks is not None:
            sinks.close()
    if mic is not None:
        y = mic.audio()
    n_frames = n if src is not None else int(n / 16000 * fps + 1e-9)
    shown, drop = player.finish(n_frames)
    lat = [1000 * (t - start - f.time_s) for k, (t, f) in player.ready_.items() if k < n_frames - fps]
    if out_path is not None:
        _write(out_path, engine, shown, y, fps, shown_as)
    what = f"{n / fps:.1f} s of video" if src is not None else f"{n / 16000:.1f} s of sound"
    timing = (f"latency median {np.median(lat) if lat else 0:.0f} ms; {int(drop.sum())} not ready by their time at "
              f"--playout-ms {playout_ms:g}" if paced else "fed as fast as possible")
    click.echo(f"{n_frames} frames ({what}); {timing}" + (f"; wrote {out_path}" if out_path else ""))


def _video_sound(db, path):
    """A --face file's sound at 16 kHz for --out, or None (a webcam, a silent video)."""
    if path is None:
        return None
    from ..io.audio import load_audio
    from ..io.video import probe

    return load_audio(path, 16000) if probe(path).has_audio else None


def _check_out(path):
    import os

    from ..errors import ParameterError

    if not str(path).lower().endswith(".mp4"):
        raise ParameterError(f"--out must name an .mp4 file, got {path}")
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise ParameterError(f"--out: the folder {folder} does not exist")


def _write(path, engine, shown, y, fps, render):
    """What was shown, tick by tick, with the sound: frame i plays with the sound at i / fps (both delayed alike).
    Each image is rendered again (``render``): a session keeps rows and keypoints, not pixels (so a composite's
    mouth does not follow the prediction's shape here, as it did on screen)."""
    import os
    import tempfile
    import wave

    import numpy as np

    from ..io.video_write import write_video
    from ..live.frames import FrameSource
    from ..outputs.video import FRAMES_CRF

    if engine.render == render:
        source = engine.frames_
    else:  # a composite plays the background the engine's pose term selected against
        take = None if engine.pose_ is None else (engine.pose_.background_rows, engine.pose_.start)
        source = FrameSource(engine.db, render, engine.size, background=take).fit()
    w, h = source.size_
    blank = np.full((h, w, 3), 255, np.uint8)
    folder = os.path.dirname(os.path.abspath(path))
    fd, wav = tempfile.mkstemp(".wav", ".live-", folder)
    os.close(fd)
    tmp = wav[:-4] + ".mp4"
    try:
        if y is not None:
            with wave.open(wav, "wb") as f:
                f.setnchannels(1)
                f.setsampwidth(2)
                f.setframerate(16000)
                f.writeframes((np.clip(y, -1, 1) * 32767).astype("<i2").tobytes())
        def images():
            previous = -1  # the row shown at the tick before: a jump from it morphs, as on screen
            for fr in shown:
                yield blank if fr is None else source.image(fr.row, fr.keypoints, fr.index, previous=previous)
                previous = -1 if fr is None else fr.row

        # real frames at frames.mp4's quality (the codec is where a mouth's detail goes)
        crf = {"crf": FRAMES_CRF} if render in ("composite", "frames") else {}
        write_video(tmp, images(), fps, audio=None if y is None else wav, **crf)
        os.replace(tmp, path)
    finally:
        for p in (wav, tmp):
            if os.path.exists(p):
                os.unlink(p)


class _Sinks:
    """Where each due frame goes: an OpenCV window and/or a virtual webcam (opened here, so a missing one is
    reported before the stream starts)."""

    def __init__(self, show, virtual_camera, size, fps):
        self.window = self.cam = None
        if virtual_camera:
            from ..live.camera import VirtualCamera

            self.cam = VirtualCamera(size[0], size[1], fps).open()
        if show:
            import cv2

            self.cv2 = cv2
            cv2.namedWindow("sketchsynth live", cv2.WINDOW_AUTOSIZE)
            self.window = True
        self.any = bool(self.window or self.cam)

    def show(self, frame):
        if frame.image is None:
            return
        if self.cam is not None:
            self.cam.send(frame)
        if self.window:
            self.cv2.imshow("sketchsynth live", frame.image)
            self.cv2.waitKey(1)

    def close(self):
        if self.cam is not None:
            self.cam.close()
        if self.window:
            self.cv2.destroyWindow("sketchsynth live")
