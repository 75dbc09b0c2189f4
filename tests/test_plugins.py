"""Third-party parts join through entry points, without a line of sketchsynth changed: a speech feature
extractor (database side and input side) and a frames renderer, each run end to end (build-db + match)."""

import json
import shutil
import textwrap

import numpy as np
import pytest
from click.testing import CliRunner

from sketchsynth.cli import cli

PLUGIN = '''
import numpy as np

from sketchsynth.database.speech_features import LogMel


class CoarseMel(LogMel):
    """40 mel bands instead of 80: a different feature extractor with its own parameters."""

    def __init__(self, sr=16000, n_mels=40, **kwargs):
        super().__init__(sr=sr, n_mels=n_mels, **kwargs)


class GreyFrames:
    """Each output frame is the chosen database frame itself, in grey, at its recorded size."""

    def __init__(self, **options):
        self.options = options

    def render(self, job):
        from sketchsynth.io.video_fetch import decode_image
        from sketchsynth.outputs.frames.fetch import fetch_db_frames
        import cv2

        rows = np.where(job.rows_out >= 0, job.rows_out, job.rows_out[job.rows_out >= 0][0])
        frames, _ = fetch_db_frames(job.db, rows)

        def images():
            for r in rows:
                g = cv2.cvtColor(decode_image(frames[int(r)]), cv2.COLOR_BGR2GRAY)
                yield cv2.cvtColor(g, cv2.COLOR_GRAY2BGR)

        return images(), {"renderer": "grey"}
'''


@pytest.fixture
def plugin(tmp_path, monkeypatch):
    site = tmp_path / "site"
    dist = site / "sketchsynth_plugin-0.1.dist-info"
    dist.mkdir(parents=True)
    (site / "sketchsynth_plugin.py").write_text(textwrap.dedent(PLUGIN))
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: sketchsynth-plugin\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text("[sketchsynth.features]\ncoarse-mel = sketchsynth_plugin:CoarseMel\n\n"
                                           "[sketchsynth.renderers]\ngrey = sketchsynth_plugin:GreyFrames\n")
    monkeypatch.syspath_prepend(str(site))
    return site


def test_a_third_party_feature_extractor_and_renderer_run_end_to_end(plugin, tmp_path):
    pytest.importorskip("av")
    pytest.importorskip("librosa")
    from sketchsynth.demo.video import seed_example_tracks, video_example_paths

    paths = video_example_paths()
    seed_example_tracks(paths)
    rec = tmp_path / "rec"
    rec.mkdir()
    for p in sorted(paths["recordings"].glob("*.mp4"))[:30]:
        (rec / p.name).symlink_to(p)
    db = tmp_path / "db"
    r = CliRunner().invoke(cli, ["build-db", str(rec), "--db", str(db), "--features", "coarse-mel"])
    assert r.exit_code == 0, r.output
    man = json.loads((db / "manifest.json").read_text())
    assert man["audio"]["features"]["name"] == "coarse-mel" and man["audio"]["features"]["n_mels"] == 40
    assert np.load(db / "mel.npy", mmap_mode="r").shape[1] == 40
    sentence = tmp_path / "bbas1s.mp4"
    shutil.copy(paths["input"], sentence)
    out = tmp_path / "out"
    r = CliRunner().invoke(cli, ["match", str(sentence), "--drive", "audio", "--db", str(db), "--out", str(out),
                                 "--frames", "grey"])
    assert r.exit_code == 0, r.output
    videos = json.loads((out / "videos.json").read_text())
    assert videos["frames_mode"] == "grey" and videos["renderer"] == "grey"
    from sketchsynth.io.video_fetch import read_frames

    img = read_frames(out / "frames.mp4", [10])[0]
    assert np.abs(img[..., 0].astype(int) - img[..., 2].astype(int)).mean() < 3  # grey: B == R up to coding
    bad = CliRunner().invoke(cli, ["match", str(sentence), "--drive", "audio", "--db", str(db), "--out",
                                   str(tmp_path / "o2"), "--frames", "nope"])
    assert bad.exit_code == 2 and "no frames renderer named 'nope'" in bad.output and "grey" in bad.output
