"""sketchsynth live: speech in (microphone or a file), the face speaking it out as it is spoken."""

from __future__ import annotations

import click

from .options import FLOAT, db_option


@click.command("live")
@db_option
@click.option("--input", "input_path", default=None, metavar="FILE",
              help="A sound file (or a video's sound) instead of the microphone.")
@click.option("--realtime/--fast", default=False, show_default=True,
              help="--input: feed it at the pace it is spoken (as a microphone would), or as fast as possible.")
@click.option("--lookahead-ms", type=FLOAT, default=120.0, show_default=True,
              help="Sound after a frame its mouth may depend on; the database's speech model must be fitted with "
                   "it (sketchsynth fit-speech --lookahead-ms).")
@click.option("--lag-ms", type=FLOAT, default=80.0, show_default=True,
              help="Longest wait of the smooth decoder before it commits to a frame.")
@click.option("--playout-ms", type=FLOAT, default=300.0, show_default=True,
              help="Delay of the display (and of the sound in --out) after the sound was spoken.")
@click.option("--frames", "render", type=click.Choice(["sketch", "frames"]), default="sketch", show_default=True,
              help="Draw the sketch, or show the recorded frames (read once into memory at start).")
@click.option("--show/--no-show", default=None,
              help="Show the face in a window [default: when a display exists].")
@click.option("--out", "out_path", default=None, metavar="FILE.mp4",
              help="Also write what was shown, with the sound in sync (H.264 + AAC).")
@click.option("--seconds", type=FLOAT, default=None, help="Microphone: stop after this long [default: Ctrl-C].")
@click.option("--device", default=None, help="Microphone: a sounddevice input device (name or number).")
def command(db_path, input_path, realtime, lookahead_ms, lag_ms, playout_ms, render, show, out_path, seconds, device):
    """Speak (or play a file) and watch the database's face speak it, about a quarter of a second later.

    The microphone needs the 'live' extra (sounddevice; on Debian also
    libportaudio2). The speech model must look ahead --lookahead-ms.

    \b
    Examples:
      sketchsynth fit-speech --db db/grid --lookahead-ms 120   # once: the live speech model
      sketchsynth live --db db/grid                            # microphone, window
      sketchsynth live --db db/grid --input s.wav --realtime --out shown.mp4
    """
    import os
    import time

    from ..database.frame_database import FrameDatabase
    from ..errors import ParameterError
    from ..live.engine import LiveEngine
    from ..live.player import Microphone, Player, file_chunks, run

    if not (0 <= playout_ms <= 10000):
        raise ParameterError(f"--playout-ms must be within 0-10000, got {playout_ms}")
    if seconds is not None and not seconds > 0:
        raise ParameterError(f"--seconds must be > 0, got {seconds}")
    if out_path is not None:
        _check_out(out_path)
    db = FrameDatabase.load(db_path)
    y = None
    if input_path is not None:
        from ..pipeline.stages import AudioSource

        y = AudioSource().fit(db).transform(input_path).samples
    if show is None:
        show = bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")) or os.name == "nt"
    engine = LiveEngine(db, lookahead_ms=lookahead_ms, lag_ms=lag_ms, render=render if show else "none").start()
    window = _Window() if show else None
    mic = None
    try:
        if y is None:
            mic = Microphone(device, seconds)
            chunks = mic.start()
            start = mic.t0_
            click.echo("Listening; Ctrl-C to stop.", err=True)
        else:
            start = time.perf_counter() + 0.05
            chunks = file_chunks(y, realtime, start)
        player = Player(engine.fps, playout_ms).start(start)
        try:
            n = run(engine, chunks, start, player, window.show if window else None)
        except KeyboardInterrupt:
            if mic is None:
                raise
            mic.stop()
            n = run(engine, chunks, start, player)
    finally:
        if mic is not None:
            mic.stop()
        if window is not None:
            window.close()
    if mic is not None:
        y = mic.audio()
    n_frames = int(n / 16000 * engine.fps + 1e-9)
    shown, drop = player.finish(n_frames)
    lat = [1000 * (t - start - k / engine.fps) for k, (t, _) in player.ready_.items() if k < n_frames - engine.fps]
    if out_path is not None:
        _write(out_path, engine, shown, y)
    import numpy as np

    paced = input_path is None or realtime  # a file fed as fast as possible has no latency to speak of
    timing = (f"latency median {np.median(lat) if lat else 0:.0f} ms; {int(drop.sum())} not ready by their time at "
              f"--playout-ms {playout_ms:g}" if paced else "fed as fast as possible")
    click.echo(f"{n_frames} frames ({n / 16000:.1f} s of sound); {timing}" + (f"; wrote {out_path}" if out_path else ""))


def _check_out(path):
    import os

    from ..errors import ParameterError

    if not str(path).lower().endswith(".mp4"):
        raise ParameterError(f"--out must name an .mp4 file, got {path}")
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise ParameterError(f"--out: the folder {folder} does not exist")


def _write(path, engine, shown, y):
    """What was shown, tick by tick, with the sound: frame i plays with the sound at i / fps (both delayed alike)."""
    import os
    import tempfile
    import wave

    import numpy as np

    from ..io.video_write import write_video
    from ..live.frames import FrameSource

    source = FrameSource(engine.db, "sketch" if engine.render == "none" else engine.render, engine.size)
    source = engine.frames_ if engine.render != "none" else source.fit()
    w, h = source.size_
    blank = np.full((h, w, 3), 255, np.uint8)
    folder = os.path.dirname(os.path.abspath(path))
    fd, wav = tempfile.mkstemp(".wav", ".live-", folder)
    os.close(fd)
    tmp = wav[:-4] + ".mp4"
    try:
        with wave.open(wav, "wb") as f:
            f.setnchannels(1)
            f.setsampwidth(2)
            f.setframerate(16000)
            f.writeframes((np.clip(y, -1, 1) * 32767).astype("<i2").tobytes())
        write_video(tmp, (blank if fr is None else source.image(fr.row, fr.keypoints) for fr in shown), engine.fps,
                    audio=wav)
        os.replace(tmp, path)
    finally:
        for p in (wav, tmp):
            if os.path.exists(p):
                os.unlink(p)


class _Window:
    """An OpenCV window showing each frame when it is due."""

    def __init__(self):
        import cv2

        self.cv2 = cv2
        cv2.namedWindow("sketchsynth live", cv2.WINDOW_AUTOSIZE)

    def show(self, frame):
        if frame.image is not None:
            self.cv2.imshow("sketchsynth live", frame.image)
            self.cv2.waitKey(1)

    def close(self):
        self.cv2.destroyWindow("sketchsynth live")
