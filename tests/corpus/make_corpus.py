"""Generate the bad-input corpus: every way an input can be broken, each a CLI call that must fail cleanly.

Each case is a command line plus what its one-line error must mention. Inputs are
made from the real data (../shared/data) by damaging copies, so they look like
what trackers, cameras and disks really produce.

    python tests/corpus/make_corpus.py OUTDIR     # writes the corpus and lists the cases

The test ``tests/test_corpus.py`` runs every case through the CLI and requires exit
status 2, exactly one line on stderr naming the file (or option) and the problem,
no traceback, and nothing half-written.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import orjson


@dataclass
class Case:
    """One bad input: ``args`` for ``sketchsynth``, fragments the error line must contain."""

    id: str
    kind: str
    args: list
    expect: list
    must_not_exist: list = field(default_factory=list)   # outputs that must not appear
    unchanged: list = field(default_factory=list)        # databases that must still load, checksums verified
    forbid: list = field(default_factory=list)           # fragments the error line must not contain
    cwd: Path | None = None                              # run in this folder (cases about the current folder)
    fsize: int | None = None                             # file-size limit (bytes, RLIMIT_FSIZE) while it runs


def _json_recording(src: Path, dst: Path, n: int = 8, fps: float = 25) -> Path:
    dst.mkdir(parents=True)
    for p in sorted(src.glob("*_keypoints.json"))[:n]:
        (dst / p.name).write_bytes(p.read_bytes())
    (dst / "fps.txt").write_text(f"{fps:g}\n")
    return dst


def _set_face(path: Path, values):
    doc = orjson.loads(path.read_bytes())
    doc["people"][0]["face_keypoints_2d"] = values
    path.write_bytes(orjson.dumps(doc))


def _replace(path: Path, old: bytes, new: bytes):
    path.write_bytes(path.read_bytes().replace(old, new, 1))


def _npz_declaring(path: Path, kp: np.ndarray, shape: tuple):
    """An .npz whose member's header declares ``shape`` over ``kp``'s data (np.load would allocate it)."""
    import zipfile

    np.savez(path, keypoints=kp)
    with zipfile.ZipFile(path) as z:
        data = z.read("keypoints.npy")
    old = f"'shape': {kp.shape}".encode()
    new = f"'shape': {shape}".encode()
    head_len = 10 + int.from_bytes(data[8:10], "little")
    head = data[:head_len].replace(old, new, 1)
    head = head[:-1].rstrip(b" ").ljust(head_len - 1, b" ") + b"\n"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("keypoints.npy", head + data[head_len:])


def _npz_bomb(path: Path, n_frames: int):
    """A compressed .npz of ``n_frames`` zero frames: a few MB on disk, GBs when inflated."""
    import io
    import zipfile

    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as z:
        with z.open("keypoints.npy", "w", force_zip64=True) as f:
            h = io.BytesIO()
            np.lib.format.write_array_header_1_0(h, {"descr": "<f4", "fortran_order": False,
                                                     "shape": (n_frames, 70, 3)})
            f.write(h.getvalue())
            left, chunk = n_frames * 70 * 3 * 4, b"\0" * (1 << 22)
            while left > 0:
                f.write(chunk[:left])
                left -= len(chunk)


def make_bad_video(kind: str, source_mp4, tmp: Path) -> Path:
    """Write one kind of broken video (see BAD_VIDEOS) made from a real clip; return its path."""
    import av

    source_mp4 = Path(source_mp4)
    sa1 = source_mp4.read_bytes()
    if kind == "truncated":
        p = tmp / "truncated.mp4"
        p.write_bytes(sa1[: len(sa1) // 2])  # the index (moov) is at the end: cut off
    elif kind == "truncated_faststart":
        p = tmp / "faststart.mp4"
        with av.open(str(source_mp4)) as i, av.open(str(tmp / "full.mp4"), "w",
                                                      options={"movflags": "faststart"}) as o:
            vs = o.add_stream_from_template(i.streams.video[0])
            for pk in i.demux(i.streams.video[0]):
                if pk.dts is not None:
                    pk.stream = vs
                    o.mux(pk)
        data = (tmp / "full.mp4").read_bytes()
        p.write_bytes(data[: len(data) // 2])  # index intact, half the frames gone
    elif kind == "zero_frames":
        p = tmp / "zero.avi"
        with av.open(str(p), "w") as c:
            s = c.add_stream("mpeg4", rate=25)
            s.width, s.height, s.pix_fmt = 64, 48, "yuv420p"
            c.start_encoding()
    elif kind == "empty_mp4":
        p = tmp / "empty.mp4"
        with av.open(str(p), "w") as c:
            s = c.add_stream("libx264", rate=25)
            s.width, s.height, s.pix_fmt = 64, 48, "yuv420p"
            c.start_encoding()
    elif kind == "audio_only":
        p = tmp / "speech.mp4"
        write_audio_only(p)
    elif kind == "junk":
        p = tmp / "junk.mp4"
        p.write_bytes(np.random.default_rng(0).bytes(40000))
    elif kind == "text":
        p = tmp / "notes.mp4"
        p.write_text("[00:01.00] this is a text file\n" * 50)
    return p


def write_audio_only(path):
    """An AAC audio track in an .mp4 container, with no video stream."""
    import av

    with av.open(str(path), "w") as c:
        a = c.add_stream("aac", rate=16000)
        a.layout = "mono"
        for i in range(20):
            f = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="fltp", layout="mono")
            f.sample_rate, f.pts = 16000, i * 1024
            for p in a.encode(f):
                c.mux(p)
        for p in a.encode():
            c.mux(p)


BAD_VIDEOS = {"truncated": "truncated", "truncated_faststart": "truncated", "zero_frames": "no frames",
              "empty_mp4": "no frames", "audio_only": "audio-only", "junk": "not a video", "text": "not a video"}
"""Kinds of broken video and what their error says."""


def build_corpus(root: Path, shared: Path, example_db: Path | None = None) -> list[Case]:
    """Write every bad input under ``root``; return the cases."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    sa1 = shared / "fadg0" / "keypoints" / "sa1"
    real = sorted(sa1.glob("*_keypoints.json"))[4].read_bytes()
    cases: list[Case] = []
    out = root / "outputs"
    dbs = root / "dbs"

    def build_case(cid, kind, rec, expect, extra=()):
        target = dbs / cid
        cases.append(Case(cid, kind, ["build-db", str(rec), "--db", str(target), *extra], expect,
                          must_not_exist=[target]))

    # ---------------------------------------------------------------- OpenPose JSON, one damaged file
    victim = "sa1_003_keypoints.json"
    json_damage = {
        "json-malformed": (lambda p: p.write_bytes(b'{"version": 1.3, "people": [}'), "not valid JSON"),
        "json-truncated": (lambda p: p.write_bytes(real[: len(real) // 3]), "truncated"),
        "json-empty-file": (lambda p: p.write_bytes(b""), "empty file"),
        "json-wrong-length": (lambda p: _set_face(p, [1.0] * 204), "has 204 values, expected 210"),
        "json-too-long": (lambda p: _set_face(p, [1.0] * 213), "has 213 values"),
        "json-strings-for-numbers": (lambda p: _set_face(p, ["412.5"] * 210), "where a number is expected"),
        "json-null-in-face": (lambda p: _set_face(p, [None] + [1.0] * 209), "where a number is expected"),
        "json-nan": (lambda p: _replace(p, b'"face_keypoints_2d":[', b'"face_keypoints_2d":[NaN,'), "NaN or Infinity"),
        "json-infinity": (lambda p: _replace(p, b'"face_keypoints_2d":[', b'"face_keypoints_2d":[-Infinity,'),
                          "NaN or Infinity"),
        "json-overflow": (lambda p: _replace(p, b'"face_keypoints_2d":[', b'"face_keypoints_2d":[1e999,'),
                          "too large"),
        "json-huge-coordinates": (lambda p: _set_face(p, [3e9, 2e9, 0.9] * 70), "beyond"),
        "json-negative-confidence": (lambda p: _set_face(p, [400.0, 300.0, -0.3] * 70), "negative confidence"),
        "json-top-level-array": (lambda p: p.write_bytes(b"[1, 2, 3]"), "not an OpenPose keypoint file"),
        "json-people-not-a-list": (lambda p: p.write_bytes(b'{"people": {"face_keypoints_2d": []}}'),
                                   "'people' is not a list"),
        "json-person-not-an-object": (lambda p: p.write_bytes(b'{"people": [17]}'), "people[0] is not an object"),
        "json-face-not-a-list": (lambda p: p.write_bytes(b'{"people": [{"face_keypoints_2d": 5}]}'),
                                 "is not a list"),
        "json-binary-junk": (lambda p: p.write_bytes(bytes(range(256)) * 4), "not valid JSON"),
        "json-utf16": (lambda p: p.write_bytes(real.decode().encode("utf-16")), "not valid JSON"),
    }
    for cid, (damage, message) in json_damage.items():
        rec = _json_recording(sa1, root / cid / "sa1")
        damage(rec / victim)
        build_case(cid, "openpose-json", rec, [victim, message])

    # whole recordings without a usable frame
    rec = _json_recording(sa1, root / "json-no-people" / "sa1")
    for p in rec.glob("*.json"):
        p.write_bytes(b'{"version":1.3,"people":[]}')
    build_case("json-no-people", "openpose-json", rec, ["no usable frame", "no_person"])
    rec = _json_recording(sa1, root / "json-all-zero-face" / "sa1")
    for p in rec.glob("*.json"):
        _set_face(p, [0.0] * 210)
    build_case("json-all-zero-face", "openpose-json", rec, ["no usable frame", "no_person"])
    rec = _json_recording(sa1, root / "json-several-people-missing-index" / "sa1")
    for p in rec.glob("*.json"):
        doc = orjson.loads(p.read_bytes())
        doc["people"] = doc["people"] * 2  # two people, and the user asks for a third
        p.write_bytes(orjson.dumps(doc))
    build_case("json-several-people-missing-index", "openpose-json", rec, ["no usable frame"],
               extra=["--person", "2"])
    rec = _json_recording(sa1, root / "json-low-confidence-anchors" / "sa1")
    for p in rec.glob("*.json"):
        doc = orjson.loads(p.read_bytes())
        doc["people"][0]["face_keypoints_2d"][3 * 35 + 2] = 0.01
        p.write_bytes(orjson.dumps(doc))
    build_case("json-low-confidence-anchors", "openpose-json", rec, ["no usable frame", "anchor_low_confidence"])
    rec = _json_recording(sa1, root / "json-duplicate-frame" / "sa1")
    (rec / "sa1_0003_keypoints.json").write_bytes((rec / victim).read_bytes())
    build_case("json-duplicate-frame", "openpose-json", rec, ["same frame number 3"])
    rec = _json_recording(sa1, root / "json-no-frame-number" / "sa1")
    (rec / "final_keypoints.json").write_bytes(real)
    build_case("json-no-frame-number", "openpose-json", rec, ["final_keypoints.json", "no frame number"])
    rec = _json_recording(sa1, root / "json-huge-frame-number" / "sa1")
    (rec / "sa1_99999999999999999999999_keypoints.json").write_bytes(real)
    build_case("json-huge-frame-number", "openpose-json", rec, ["99999999999999999999999", "too large"])
    rec = _json_recording(sa1, root / "json-no-fps" / "sa1")
    (rec / "fps.txt").unlink()
    build_case("json-no-fps", "openpose-json", rec, ["no frame rate", "--fps"])
    rec = _json_recording(sa1, root / "json-bad-fps-sidecar" / "sa1")
    (rec / "fps.txt").write_text("twenty-five")
    build_case("json-bad-fps-sidecar", "openpose-json", rec, ["fps.txt", "one positive number"])
    one = root / "json-single-file" / "x_000_keypoints.json"
    one.parent.mkdir()
    one.write_bytes(real)
    build_case("json-single-file", "openpose-json", one, ["single JSON file is not a recording"])

    # ---------------------------------------------------------------- landmark arrays
    kp = np.stack([np.asarray(orjson.loads(p.read_bytes())["people"][0]["face_keypoints_2d"], np.float32)
                   .reshape(70, 3) for p in sorted(sa1.glob("*.json"))[:20]])
    lm = root / "landmarks"
    lm.mkdir()
    arrays = {
        "npy-wrong-shape": (lambda p: np.save(p, kp[:, :50]), "shape (20, 50, 3)"),
        "npy-strings": (lambda p: np.save(p, kp.astype(str)), "expected numbers"),
        "npy-object": (lambda p: np.save(p, np.array([None] * 5, dtype=object), allow_pickle=True),
                       "cannot read landmark array"),
        "npy-no-frames": (lambda p: np.save(p, kp[:0]), "no frames"),
        "npy-truncated": (lambda p: (np.save(p, kp), p.write_bytes(p.read_bytes()[:2000])), "cannot read landmark"),
        "npy-infinite": (lambda p: np.save(p, np.where(np.arange(70)[None, :, None] == 3, np.inf, kp)), "infinite"),
        "npy-negative-confidence": (lambda p: np.save(p, kp * np.float32([1, 1, -1])), "negative confidence"),
        "npy-not-numpy": (lambda p: p.write_bytes(b"this is not an array\n" * 10), "cannot read landmark"),
        "npz-unnamed-arrays": (lambda p: np.savez(p, a=kp, b=kp), "name the track"),
        "npz-frames-not-increasing": (lambda p: np.savez(p, keypoints=kp, frames=np.zeros(20, np.int64)),
                                      "'frames' must be 20 increasing"),
        "npz-bad-fps": (lambda p: np.savez(p, keypoints=kp, fps=np.float32(-4)), "'fps' -4 is not plausible"),
        "npz-fps-string": (lambda p: np.savez(p, keypoints=kp, fps=np.array("25")), "member 'fps'"),
        "npz-fps-complex": (lambda p: np.savez(p, keypoints=kp, fps=np.complex64(25 + 1j)), "member 'fps'"),
        "npz-declared-huge": (lambda p: _npz_declaring(p, kp, (100_000_000, 70, 3)), "the header says"),
        "npz-zip-bomb": (lambda p: _npz_bomb(p, 2_000_000), "GiB uncompressed"),
    }
    for cid, (write, message) in arrays.items():
        p = lm / (cid + (".npz" if cid.startswith("npz") else ".npy"))
        write(p)
        if p.suffix == ".npy" and not p.exists():  # np.savez adds the suffix itself
            pass
        p.with_name(p.stem + ".fps.txt").write_text("25")
        build_case(cid, "landmarks", p, [p.name, message])

    # ---------------------------------------------------------------- folders
    empty = root / "folder-empty"
    empty.mkdir()
    build_case("folder-empty", "folder", empty, ["no recordings here"])
    junk = root / "folder-no-recordings"
    junk.mkdir()
    (junk / "notes.txt").write_text("hello")
    (junk / "photo.png").write_bytes(b"\x89PNG")
    build_case("folder-no-recordings", "folder", junk, ["no recordings here"])
    loop = root / "folder-symlink-loop"
    loop.mkdir()
    os.symlink(loop, loop / "again")
    os.symlink(loop / "again", loop / "and-again")
    build_case("folder-symlink-loop", "folder", loop, ["no recordings here"])
    dangling = root / "folder-dangling-link"
    os.symlink(root / "does-not-exist", dangling)
    build_case("folder-dangling-link", "folder", dangling, ["no such file or folder"])
    uni = root / "récordings avec espaces ü" / "sa1 copy"
    rec = _json_recording(sa1, uni)
    (rec / victim).write_bytes(real[:100])
    build_case("folder-unicode-and-spaces", "folder", uni.parent, ["récordings avec espaces ü/sa1 copy", victim])
    if os.geteuid() != 0:  # root reads everything: permissions cannot be tested as root
        locked = root / "folder-unreadable"
        _json_recording(sa1, locked / "sa1")
        os.chmod(locked / "sa1", 0)
        build_case("folder-unreadable", "folder", locked, ["not readable"])

    # ---------------------------------------------------------------- databases
    good = _json_recording(sa1, root / "db-source" / "sa1", n=40)

    def damaged_db(cid, damage, expect, command=("match",)):
        from sketchsynth import FrameDatabase

        path = dbs / cid
        FrameDatabase(fps=25).build(good, path=path)
        damage(path)
        res = out / cid
        if command[0] == "match":
            args = ["match", str(good), "--db", str(path), "--out", str(res)]
        else:
            args = [*command, "--db", str(path)]
        cases.append(Case(cid, "database", args, expect, must_not_exist=[res]))

    def edit_manifest(fn):
        def damage(path):
            m = json.loads((path / "manifest.json").read_text())
            fn(m)
            (path / "manifest.json").write_text(json.dumps(m))
        return damage

    damaged_db("db-other-format-version", edit_manifest(lambda m: m.update(format_version=99)),
               ["format version 99", "build-db"])
    damaged_db("db-missing-file", lambda p: (p / "transforms.npy").unlink(), ["transforms.npy is missing"])
    damaged_db("db-truncated-array", lambda p: (p / "normalized.npy").write_bytes((p / "normalized.npy")
                                                                                  .read_bytes()[:-64]),
               ["normalized.npy", "truncated"])
    damaged_db("db-checksum-mismatch", lambda p: (p / "keypoints.npy").write_bytes(
        (p / "keypoints.npy").read_bytes()[:-1] + b"\x01"), ["keypoints.npy", "sha256"],
        command=("info", "--verify"))
    damaged_db("db-manifest-outside",
               edit_manifest(lambda m: m["files"].update({"../../etc/passwd": m["files"].pop("index.faiss")})),
               ["manifest"])
    damaged_db("db-manifest-not-json", lambda p: (p / "manifest.json").write_text("{'format': 1"),
               ["manifest.json is unreadable"])
    # a folder without a manifest may be the user's: the advice must not be a --force that deletes it
    cases.append(Case("db-not-a-database", "database", ["match", str(good), "--db", str(root / "folder-no-recordings"),
                                                        "--out", str(out / "db-not-a-database")],
                      ["manifest.json is missing", "new folder"], must_not_exist=[out / "db-not-a-database"],
                      forbid=["--force"]))
    # index.faiss is never handed to FAISS (match rebuilds the flat index); --verify names the damage
    damaged_db("db-corrupt-index", lambda p: (p / "index.faiss").write_bytes(b"\0" * (p / "index.faiss").stat()
                                                                             .st_size), ["index.faiss", "sha256"],
               command=("info", "--verify"))
    cases.extend(safety_cases(root, sa1, good, dbs, out, real, example_db))
    cases.extend(hostile_cases(root, sa1, good, dbs, out))
    cases.append(Case("db-does-not-exist", "database", ["match", str(good), "--db", str(dbs / "nowhere"), "--out",
                                                           str(out / "db-does-not-exist")],
                      ["no database here"], must_not_exist=[out / "db-does-not-exist"]))

    # a bad rebuild over a good database (--force) must leave the good one in place
    from sketchsynth import FrameDatabase

    keep = dbs / "rebuild-over-existing"
    FrameDatabase(fps=25).build(good, path=keep)
    rec = _json_recording(sa1, root / "rebuild-over-existing" / "sa1")
    (rec / victim).write_bytes(real[:-40])
    cases.append(Case("rebuild-over-existing", "database", ["build-db", str(rec), "--db", str(keep), "--force"],
                      [victim, "truncated"], unchanged=[keep]))

    # ---------------------------------------------------------------- videos (need the video extra)
    try:
        import av  # noqa: F401
    except ImportError:
        av = None
    if av is not None:
        clip = shared / "fadg0" / "video" / "sa1.mp4"
        for kind, message in BAD_VIDEOS.items():
            folder = root / f"video-{kind}"
            folder.mkdir()
            bad = make_bad_video(kind, clip, folder)
            build_case(f"video-{kind}", "video", folder, [bad.name, message])
            if example_db is not None:
                res = out / f"video-match-{kind}"
                cases.append(Case(f"video-match-{kind}", "video", ["match", str(bad), "--db", str(example_db),
                                                                   "--out", str(res)], [bad.name, message],
                                  must_not_exist=[res]))
        from sketchsynth.io.video_write import write_video

        blank = root / "video-no-face" / "wall.mp4"
        blank.parent.mkdir()
        rng = np.random.default_rng(3)
        write_video(blank, [np.full((240, 320, 3), 120, np.uint8) + rng.integers(0, 3, (240, 320, 3), np.uint8)
                            for _ in range(30)], 25)
        build_case("video-no-face", "video", blank.parent, [blank.name, "no face"])

    # ---------------------------------------------------------------- CLI values
    if example_db is not None:
        inp = Path(__file__).resolve().parents[2] / "examples" / "inputs" / "henan_03001-03300"

        def value_case(cid, extra, expect, command="match"):
            res = out / cid
            args = ([command, str(inp), "--db", str(example_db), "--out", str(res), *extra] if command == "match"
                    else [command, str(good), "--db", str(dbs / cid), *extra])
            cases.append(Case(cid, "cli-value", args, expect, must_not_exist=[res, dbs / cid]))

        value_case("cli-negative-k", ["-k", "-5"], ["-k must be >= 1"])
        value_case("cli-k-beyond-database", ["-k", "1000000000"], ["-k 1000000000 is larger than the database"])
        value_case("cli-unknown-metric", ["--metric", "cosine"], ["--metric", "cosine"])
        value_case("cli-plot-frame-outside", ["--plot-frame", "5000"], ["--plot-frame 5000 is outside"])
        value_case("cli-not-an-integer", ["-k", "many"], ["-k", "many"])
        value_case("cli-bad-anchors", ["--anchors", "35,40"], ["exactly 3 points"], command="build-db")
        value_case("cli-anchor-out-of-range", ["--anchors", "35,40,70"], ["outside 0-69"], command="build-db")
        value_case("cli-zero-fps", ["--fps", "0"], ["--fps"], command="build-db")
        value_case("cli-negative-max-gap", ["--max-gap", "-1"], ["max_gap"], command="build-db")
        value_case("cli-unknown-person-rule", ["--person", "tallest"], ["--person"], command="build-db")
        value_case("cli-negative-smooth", ["--smooth", "-1"], ["--smooth"])
        value_case("cli-candidates-beyond-database", ["--candidates", "100000"], ["--candidates", "100000"])
        value_case("cli-negative-jump-cost", ["--jump-cost", "-2"], ["--jump-cost"])
        value_case("cli-unknown-join", ["--join", "teleport"], ["--join"])
        value_case("cli-negative-seam-blend", ["--seam-blend", "-3"], ["--seam-blend"])
        value_case("cli-unknown-search", ["--search", "hnsw"], ["--search", "hnsw"])
        value_case("cli-zero-nprobe", ["--nprobe", "0"], ["--nprobe must be a whole number >= 1"])
        value_case("cli-other-weights-expected", ["--expect-weights", "lips=5"], ["weights"])
        value_case("cli-other-normalization-expected", ["--expect-normalization", "similarity"], ["similarity"])
        audio_dir = root / "audio"
        audio_dir.mkdir()
        bad_audio = {"audio-empty": ("empty.wav", b"", "empty file"),
                     "audio-wrong-format": ("speech.wav", b"RIFF\x00\x00\x00\x00WAVEjunk" * 40, "not an audio file"),
                     "audio-text": ("speech.mp3", b"these are the words of the speech\n" * 30, "not an audio file")}
        for cid, (name, data, message) in bad_audio.items():
            (audio_dir / name).write_bytes(data)
            value_case(cid, ["--audio", str(audio_dir / name)], [name, message])
        silent = shared / "fadg0" / "video" / "head.mp4"  # a take without sound
        value_case("audio-no-stream", ["--audio", str(silent)], ["head.mp4", "no audio stream"])
        one_frame = root / "input-one-frame"
        one_frame.mkdir()
        for p in sorted(inp.glob("*_keypoints.json"))[:1]:
            (one_frame / p.name).write_bytes(p.read_bytes())
        res = out / "input-one-frame"
        cases.append(Case("input-one-frame", "openpose-json", ["match", str(one_frame), "--db", str(example_db),
                                                               "--out", str(res)], ["1 usable frame", "at least 2"],
                          must_not_exist=[res]))
    if example_db is not None:
        cases += speech_cases(root / "speech", shared, example_db)
    return cases


def speech_cases(root: Path, shared: Path, example_db: Path) -> list[Case]:
    """Bad inputs of speech-driven matching (issue 10): a small database with sound is built from fadg0's
    OpenPose JSON with each sentence's wav beside it (no tracking needed)."""
    import importlib.util

    if importlib.util.find_spec("librosa") is None or importlib.util.find_spec("av") is None:
        return []
    from scipy.io import wavfile

    from sketchsynth.pipeline.build import build_database

    root.mkdir(parents=True, exist_ok=True)
    rec = root / "fadg0"
    for n in ("sa1", "sa2", "si1279", "si1909"):
        shutil.copytree(shared / "fadg0" / "keypoints" / n, rec / n)
        shutil.copy(shared / "fadg0" / "audio" / f"{n}.wav", rec / f"{n}.wav")
    (rec / "fps.txt").write_text("25\n")
    db = root / "db-speech"
    build_database(rec, path=db)
    out = root / "outputs"
    cases: list[Case] = []

    def match_case(cid, inp, expect, database=db, extra=()):
        res = out / cid
        cases.append(Case(cid, "speech", ["match", str(inp), "--db", str(database), "--out", str(res), *extra],
                          expect, must_not_exist=[res]))

    # sound made to break the decoder or the features: NaN samples, a 1 Hz rate
    h = root / "hostile-sound"
    h.mkdir()
    match_case("hostile-sound-nan", _float_wav(h / "nan.wav", np.full(16000, np.nan)), ["not numbers"])
    match_case("hostile-sound-1hz", _float_wav(h / "one-hz.wav", np.zeros(4), rate=1), ["sample rate is 1 Hz"])

    text = root / "notes.wav"
    text.write_text("minutes of the meeting, not sound\n")
    match_case("speech-not-audio", text, ["notes.wav", "not an audio file"])
    silent = root / "silence.wav"
    wavfile.write(silent, 16000, np.zeros(48000, np.int16))
    match_case("speech-silent", silent, ["silence.wav", "silent"])
    short = root / "short.wav"
    sr, y = wavfile.read(shared / "fadg0" / "audio" / "sa1.wav")
    wavfile.write(short, sr, y[len(y) // 2: len(y) // 2 + sr // 100])  # 10 ms of real speech
    match_case("speech-shorter-than-a-frame", short, ["short.wav", "too short", "one frame"])
    match_case("speech-video-without-sound", shared / "fadg0" / "video" / "head.mp4", ["head.mp4", "no audio stream"],
               extra=("--drive", "audio"))
    match_case("speech-db-without-sound", shared / "fadg0" / "audio" / "sa1.wav", ["no sound", "build-db"],
               database=example_db)
    cases.append(Case("fit-speech-db-without-sound", "speech", ["fit-speech", "--db", str(example_db)],
                      ["no sound", "build-db"]))
    nomodel = root / "db-no-model"
    shutil.copytree(db, nomodel)
    man = json.loads((nomodel / "manifest.json").read_text())
    del man["files"]["speech_model.npz"], man["speech_model"]
    (nomodel / "manifest.json").write_text(json.dumps(man))
    (nomodel / "speech_model.npz").unlink()
    match_case("speech-db-without-model", shared / "fadg0" / "audio" / "sa1.wav",
               ["no fitted speech model", "fit-speech --db"], database=nomodel)
    damaged = root / "db-damaged-model"
    shutil.copytree(db, damaged)
    p = damaged / "speech_model.npz"
    data = bytearray(p.read_bytes())
    data[len(data) // 3: len(data) // 3 + 64] = b"\0" * 64
    p.write_bytes(bytes(data))
    match_case("speech-damaged-model", shared / "fadg0" / "audio" / "sa1.wav", ["speech_model.npz", "fit-speech"],
               database=damaged)
    truncated = root / "db-truncated-model"
    shutil.copytree(db, truncated)
    p = truncated / "speech_model.npz"
    p.write_bytes(p.read_bytes()[:1000])
    match_case("speech-truncated-model", shared / "fadg0" / "audio" / "sa1.wav", ["speech_model.npz", "fit-speech"],
               database=truncated)
    cases.append(Case("fit-speech-unknown-regressor", "speech", ["fit-speech", "--db", str(db), "--regressor", "nope"],
                      ["no speech regressor named 'nope'"]))
    match_case("speech-unknown-stage", shared / "fadg0" / "audio" / "sa1.wav", ["no stage named", "sketchsynth.stages"],
               extra=("--stage", "no-such-stage"))
    match_case("speech-drive-audio-folder", rec / "sa1", ["--drive audio", "folder"], extra=("--drive", "audio"))

    # the sound's own arrays and the manifest's feature parameters, damaged
    def damaged_db(cid, damage):
        path = root / cid
        shutil.copytree(db, path)
        damage(path)
        return path

    sa1 = shared / "fadg0" / "audio" / "sa1.wav"
    for name in ("mel.npy", "mel_index.npy", "audio.npy"):
        bad = damaged_db(f"db-{name[:-4]}-header", lambda p, n=name: _npy_header(p / n, b"'shape': (", b"'shape': ('"))
        match_case(f"speech-db-{name[:-4]}-header", sa1, [name, "unreadable"], database=bad)

    def n_mels(p):
        man = json.loads((p / "manifest.json").read_text())
        man["audio"]["features"]["n_mels"] = 10 ** 9
        (p / "manifest.json").write_text(json.dumps(man))
    match_case("speech-manifest-n-mels-huge", sa1, ["n_mels", "rebuild"], database=damaged_db("db-n-mels", n_mels))

    def linked(p):
        (p / "mel.npy").rename(root / "mel-outside.npy")
        (p / "mel.npy").symlink_to(root / "mel-outside.npy")
    cases.append(Case("info-verify-symlink-outside", "database", ["info", "--db", str(damaged_db("db-linked", linked)),
                                                                  "--verify"], ["mel.npy", "symbolic link"]))

    # a write that fails part-way (file-size limit: what a full disk does to the same write)
    limited = root / "db-limited"
    shutil.copytree(db, limited)
    small = 64 << 10
    cases.append(Case("fsize-fit-speech", "full-disk", ["fit-speech", "--db", str(limited)], ["file-size limit"],
                      unchanged=[limited], fsize=small))
    cases.append(Case("fsize-build-db", "full-disk", ["build-db", str(rec), "--db", str(out / "fsize-db")],
                      ["fsize-db", "file-size limit", "nothing was replaced"], must_not_exist=[out / "fsize-db"],
                      fsize=small))
    match_case("fsize-match", sa1, ["file-size limit", "nothing was replaced"])
    cases[-1].fsize = small
    cases.append(Case("fsize-say", "full-disk", ["say", "bin blue", "--db", str(db), "--out", str(out / "fsize-say")],
                      ["file-size limit"], must_not_exist=[out / "fsize-say"], fsize=small))
    return cases


def _flip_middle(path: Path, n: int = 64):
    """Same-size damage: invert n bytes in the middle of a file."""
    b = bytearray(path.read_bytes())
    mid = len(b) // 2
    b[mid:mid + n] = bytes(x ^ 0xFF for x in b[mid:mid + n])
    path.write_bytes(bytes(b))


def _npy_header(path: Path, old: bytes, new: bytes):
    """Edit a .npy header in place, keeping its length (the data stays where it was)."""
    data = path.read_bytes()
    head_len = 10 + int.from_bytes(data[8:10], "little")
    head = data[:head_len].replace(old, new, 1)
    head = head[:head_len - 1].ljust(head_len - 1, b" ") + b"\n" if len(head) >= head_len else \
        head[:-1].ljust(head_len - 1, b" ") + b"\n"
    path.write_bytes(head + data[head_len:])


def safety_cases(root: Path, sa1: Path, good: Path, dbs: Path, out: Path, real: bytes, example_db) -> list[Case]:
    """Issue 9: --force never replaces what sketchsynth did not write, planted lock files, damaged manifests and
    .npy headers, overflowing confidences, oversized frame files, bad frame rates and sizes."""
    from sketchsynth import FrameDatabase

    cases: list[Case] = []
    base = dbs / "safety-base"
    FrameDatabase(fps=25).build(good, path=base)

    def copied_db(cid, damage=None):
        path = dbs / cid
        shutil.copytree(base, path)
        if damage is not None:
            damage(path)
        return path

    user = root / "user-folder"
    user.mkdir()
    (user / "thesis.tex").write_text("years of work\n")
    (user / "data.csv").write_text("a,b\n1,2\n")

    # ---------------------------------------------------------------- --force replaces only sketchsynth's own
    def force_case(cid, args, expect, kind="force", **kw):
        cases.append(Case(cid, kind, args, expect, **kw))

    force_case("force-db-over-user-folder", ["build-db", str(good), "--db", str(user), "--force"],
               ["never replaced", "manifest.json"], forbid=["add --force"])
    force_case("force-db-onto-recordings", ["build-db", str(good), "--db", str(good), "--force"],
               ["is the recordings"])
    force_case("force-db-inside-recordings", ["build-db", str(good), "--db", str(good / "db")],
               ["lies inside the recordings"], must_not_exist=[good / "db"])
    force_case("force-db-contains-recordings", ["build-db", str(good), "--db", str(good.parent), "--force"],
               ["contains the recordings"])
    link = root / "link-to-user-folder"
    os.symlink(user, link)
    force_case("force-db-symlink-to-user-folder", ["build-db", str(sa1), "--db", str(link), "--force", "--fps", "25"],
               ["symbolic link"])
    here = root / "cwd-case"
    here.mkdir()
    (here / "notes.txt").write_text("mine\n")
    force_case("force-db-current-folder", ["build-db", str(good), "--db", ".", "--force"],
               ["the current folder"], cwd=here)
    (here / "inner").mkdir()
    force_case("force-db-parent-of-current-folder", ["build-db", str(good), "--db", "..", "--force"],
               ["contains the current folder"], cwd=here / "inner")
    match_out = out / "safety-match-output"
    from click.testing import CliRunner
    from sketchsynth.cli import cli

    res = CliRunner().invoke(cli, ["match", str(good), "--db", str(base), "--out", str(match_out), "--smooth", "0"])
    assert res.exit_code == 0, res.output
    force_case("force-db-over-match-output", ["build-db", str(good), "--db", str(match_out), "--force"],
               ["match output, not a database"])
    force_case("force-match-out-input", ["match", str(good), "--db", str(base), "--out", str(good), "--force"],
               ["is the match input"])
    force_case("force-match-out-contains-input", ["match", str(good), "--db", str(base), "--out",
                                                  str(good.parent), "--force"], ["contains the match input"])
    force_case("force-match-out-database", ["match", str(good), "--db", str(base), "--out", str(base), "--force"],
               ["is the database being read"], unchanged=[base])
    force_case("force-match-out-user-folder", ["match", str(good), "--db", str(base), "--out", str(user), "--force"],
               ["never replaced", ".sketchsynth-output"])
    force_case("force-match-out-database-folder", ["match", str(good), "--db", str(base), "--out",
                                                   str(dbs / "rebuild-over-existing"), "--force"],
               ["database, not a match output"])
    wav = root / "speech.wav"
    shared_audio = sa1.parents[2] / "fadg0" / "audio" / "sa1.wav"
    if shared_audio.is_file():
        shutil.copy(shared_audio, wav)
        force_case("force-match-out-audio", ["match", str(good), "--db", str(base), "--out", str(wav), "--audio",
                                             str(wav), "--force"], ["is the --audio file"])
    force_case("force-evaluate-out-recordings", ["evaluate", str(good.parent), "--out", str(good.parent),
                                                 "--force", "--fps", "25"], ["is the recordings"])
    force_case("force-evaluate-out-user-folder", ["evaluate", str(good.parent), "--out", str(user), "--force",
                                                  "--fps", "25"], ["never replaced"])
    video = sa1.parents[2] / "fadg0" / "video" / "sa1.mp4"
    force_case("force-track-out-user-folder", ["track", str(video), "--out", str(user), "--force"],
               ["never replaced"])
    force_case("exists-without-force-user-folder", ["build-db", str(good), "--db", str(user)],
               ["never replaced"], forbid=["add --force"])

    # ---------------------------------------------------------------- output files
    victim = root / "precious.csv"
    victim.write_text("the user's own table\n")
    sp = ["stable-points", str(sa1), "--fps", "25", "--top", "1"]
    force_case("stable-csv-exists", [*sp, "--csv", str(victim)], ["exists", "--force to overwrite"], kind="file")
    force_case("stable-csv-into-recordings", [*sp, "--csv", str(sa1 / "x.csv"), "--force"],
               ["lies inside the recordings"], kind="file", must_not_exist=[sa1 / "x.csv"])
    force_case("stable-csv-missing-folder", [*sp, "--csv", str(root / "nowhere" / "x.csv")], ["does not exist"],
               kind="file", must_not_exist=[root / "nowhere"])
    force_case("stable-csv-onto-folder", [*sp, "--csv", str(user)], ["is a folder"], kind="file")
    force_case("stable-plot-missing-folder", [*sp, "--plot", str(root / "nowhere" / "x.png")], ["does not exist"],
               kind="file")
    force_case("stable-plot-exists", [*sp, "--plot", str(root / "precious.png")], ["exists"], kind="file")
    (root / "precious.png").write_bytes(b"\x89PNG not really\n")
    (root / "folder.png").mkdir()
    force_case("plot-out-missing-folder", ["plot", str(match_out), "--out", str(root / "nowhere" / "f.png")],
               ["does not exist"], kind="file")
    force_case("plot-out-onto-folder", ["plot", str(match_out), "--out", str(root / "folder.png"), "--force"],
               ["is a folder"], kind="file")
    force_case("plot-out-exists", ["plot", str(match_out), "--out", str(root / "precious.png")], ["exists"],
               kind="file")
    force_case("plot-out-into-input", ["plot", str(match_out), "--out", str(good / "f.png"), "--force"],
               ["lies inside the match's input"], kind="file", must_not_exist=[good / "f.png"])
    force_case("stable-csv-into-database", [*sp, "--csv", str(base / "manifest.json"), "--force"],
               ["inside the database"], kind="file", unchanged=[base])
    force_case("stable-plot-deep-in-database", [*sp, "--plot", str(base / "sub" / "p.png")], ["inside the database"],
               kind="file", must_not_exist=[base / "sub"])
    users_png = out / "safety-plot-users-figure"
    shutil.copytree(match_out, users_png)
    (users_png / "comparison_00003.png").write_bytes(b"\x89PNG the user's own figure\n")
    force_case("plot-default-over-users-figure", ["plot", str(users_png), "--frame", "3"],
               ["comparison_00003.png", "exists"], kind="file")
    force_case("say-text-huge", ["say", "bin blue at f two now. " * 5000, "--db", str(base), "--out",
                                 str(out / "say-huge")], ["at most 5,000"], kind="cli-value",
               must_not_exist=[out / "say-huge"])
    force_case("say-text-not-utf8", ["say", "\udcff\udcfe bin blue", "--db", str(base), "--out",
                                     str(out / "say-bytes")], ["UTF-8"], kind="cli-value",
               must_not_exist=[out / "say-bytes"])
    short = out / "safety-match-short"
    shutil.copytree(match_out, short)
    np.save(short / "matched_keypoints.npy", np.load(short / "matched_keypoints.npy")[:-5])
    force_case("plot-files-disagree-in-length", ["plot", str(short), "--force"], ["disagree in length"],
               kind="file")
    bad_head = out / "safety-match-bad-header"
    shutil.copytree(match_out, bad_head)
    _npy_header(bad_head / "input_keypoints.npy", b"'shape': (", b"'shape': (-7, ")
    force_case("plot-npy-damaged-header", ["plot", str(bad_head), "--force"], ["damaged .npy header"], kind="file")

    # ---------------------------------------------------------------- planted lock files
    target_victim = root / "victim.txt"
    target_victim.write_text("must stay as it is\n")
    os.symlink(target_victim, dbs / ".lock-symlink.lock")
    force_case("lock-symlink-planted", ["build-db", str(good), "--db", str(dbs / "lock-symlink")],
               ["lock file is a symbolic link"], kind="lock", must_not_exist=[dbs / "lock-symlink"])
    os.mkfifo(dbs / ".lock-fifo.lock")
    force_case("lock-fifo-planted", ["build-db", str(good), "--db", str(dbs / "lock-fifo")],
               ["not a regular file"], kind="lock", must_not_exist=[dbs / "lock-fifo"])
    (dbs / ".lock-dir.lock").mkdir()
    force_case("lock-folder-planted", ["build-db", str(good), "--db", str(dbs / "lock-dir")],
               ["lock file"], kind="lock", must_not_exist=[dbs / "lock-dir"])
    os.symlink(target_victim, out / ".lock-out.lock")
    force_case("lock-symlink-planted-match", ["match", str(good), "--db", str(base), "--out", str(out / "lock-out")],
               ["lock file is a symbolic link"], kind="lock", must_not_exist=[out / "lock-out"])

    # ---------------------------------------------------------------- manifests with wrong types or lengths
    def manifest_case(cid, fn, expect, command="match"):
        def damage(path):
            m = json.loads((path / "manifest.json").read_text())
            fn(m)
            (path / "manifest.json").write_text(json.dumps(m))
        path = copied_db(cid, damage)
        res = out / cid
        args = (["match", str(good), "--db", str(path), "--out", str(res)] if command == "match"
                else ["info", "--db", str(path), "--verify"])
        cases.append(Case(cid, "manifest", args, ["manifest.json is damaged", *expect], must_not_exist=[res]))

    def setp(*keys, value):
        def fn(m):
            d = m
            for k in keys[:-1]:
                d = d[k]
            d[keys[-1]] = value
        return fn

    manifest_case("manifest-weights-69", lambda m: m["params"]["weights"].pop(), ["params.weights"])
    manifest_case("manifest-weights-strings", setp("params", "weights", value=["1"] * 70), ["params.weights"])
    manifest_case("manifest-weights-not-a-list", setp("params", "weights", value=7), ["params.weights"],
                  command="info")
    manifest_case("manifest-anchor-out-of-range", setp("params", "normalization", "anchors", value=[35, 40, 99]),
                  ["anchors"])
    manifest_case("manifest-anchors-two", setp("params", "normalization", "anchors", value=[35, 40]), ["anchors"],
                  command="info")
    manifest_case("manifest-anchors-string", setp("params", "normalization", "anchors", value="35,40,46"),
                  ["anchors"])
    manifest_case("manifest-stable-points-empty", setp("params", "normalization", "stable_points", value=[]),
                  ["stable_points"])
    manifest_case("manifest-mode-unknown", setp("params", "normalization", "mode", value="perspective"), ["mode"])
    manifest_case("manifest-etalon-70x1", lambda m: m["etalon"].update(points=[[0.0]] * 70), ["etalon.points"])
    manifest_case("manifest-etalon-nan", lambda m: m["etalon"]["points"][3].__setitem__(0, float("nan")),
                  ["etalon.points"], command="info")
    manifest_case("manifest-etalon-69", lambda m: m["etalon"]["points"].pop(), ["etalon.points"])
    manifest_case("manifest-counts-string", setp("counts", "frames", value="40"), ["counts"])
    manifest_case("manifest-usable-beyond-frames", setp("counts", "usable", value=10 ** 6), ["counts"],
                  command="info")
    manifest_case("manifest-recordings-not-a-list", setp("recordings", value={"a": 1}), ["'recordings'"])
    manifest_case("manifest-recording-fps-string", lambda m: m["recordings"][0].update(fps="25"), ["recordings[0]"])
    manifest_case("manifest-recording-frames-disagree", lambda m: m["recordings"][0].update(n_frames=41),
                  ["the recordings hold 41 frames"])
    manifest_case("manifest-file-bytes-string", lambda m: m["files"]["keypoints.npy"].update(bytes="100"),
                  ["files.keypoints.npy"], command="info")
    manifest_case("manifest-max-gap-negative", setp("params", "max_gap", value=-1), ["max_gap"])
    manifest_case("manifest-person-list", setp("params", "person", value=[0]), ["person"])
    manifest_case("manifest-version-number", setp("sketchsynth_version", value=1), ["sketchsynth_version"],
                  command="info")

    # ---------------------------------------------------------------- .npy with a damaged header
    for cid, (old, new), cmd in [("db-npy-negative-shape", (b"'shape': (", b"'shape': (-5, "), "match"),
                                 ("db-npy-huge-shape", (b"'shape': (", b"'shape': (99999999999, "), "match"),
                                 ("db-npy-bad-dtype", (b"'<f4'", b"'<f9'"), "info"),
                                 ("db-npy-header-junk", (b"'descr'", b"'d\x00scr'"), "match")]:
        path = copied_db(cid, lambda p, o=old, n=new: _npy_header(p / "keypoints.npy", o, n))
        res = out / cid
        args = (["match", str(good), "--db", str(path), "--out", str(res)] if cmd == "match"
                else ["info", "--db", str(path), "--verify"])
        expect = ["keypoints.npy"] + (["sha256"] if cmd == "info" else ["unreadable"])
        cases.append(Case(cid, "npy-header", args, expect, must_not_exist=[res]))
    lm = root / "landmarks-header"
    lm.mkdir()
    kp = np.zeros((20, 70, 3), np.float32) + np.float32([400, 300, 0.9])
    for cid, (old, new) in [("npy-negative-shape", (b"'shape': (", b"'shape': (-5, ")),
                            ("npy-huge-shape", (b"'shape': (", b"'shape': (4000000000, ")),
                            ("npy-bad-dtype", (b"'<f4'", b"'<f9'")),
                            ("npy-header-junk", (b"'descr'", b"'d\x00scr'")),
                            ("npy-fortran-garbage", (b"False", b"Fals3"))]:
        p = lm / f"{cid}.npy"
        np.save(p, kp)
        _npy_header(p, old, new)
        p.with_name(p.stem + ".fps.txt").write_text("25")
        cases.append(Case(cid, "npy-header", ["build-db", str(p), "--db", str(dbs / cid)],
                          [p.name, "cannot read landmark array"], must_not_exist=[dbs / cid]))

    # ---------------------------------------------------------------- overflowing confidences, oversized files
    victim_json = "sa1_003_keypoints.json"
    rec = _json_recording(sa1, root / "json-confidence-overflow" / "sa1")
    _replace(rec / victim_json, b'"face_keypoints_2d":[', b'"face_keypoints_2d":[1,1,1e308,')
    doc = orjson.loads((rec / victim_json).read_bytes())
    doc["people"][0]["face_keypoints_2d"] = doc["people"][0]["face_keypoints_2d"][:210]
    (rec / victim_json).write_bytes(json.dumps(doc).encode())
    cases.append(Case("json-confidence-overflow", "openpose-json", ["build-db", str(rec), "--db",
                                                                    str(dbs / "json-confidence-overflow")],
                      [victim_json, "confidence beyond"], must_not_exist=[dbs / "json-confidence-overflow"]))
    p = lm / "npy-confidence-overflow.npy"
    big = kp.astype(np.float64)
    big[3, 5, 2] = 1e308
    np.save(p, big)
    p.with_name(p.stem + ".fps.txt").write_text("25")
    cases.append(Case("npy-confidence-overflow", "landmarks", ["build-db", str(p), "--db",
                                                                str(dbs / "npy-confidence-overflow")],
                      [p.name, "confidence beyond"], must_not_exist=[dbs / "npy-confidence-overflow"]))
    rec = _json_recording(sa1, root / "json-oversized" / "sa1")
    with open(rec / victim_json, "r+b") as fh:  # sparse: 500 MB on paper, nothing on disk
        fh.truncate(500 << 20)
    cases.append(Case("json-oversized", "openpose-json", ["build-db", str(rec), "--db", str(dbs / "json-oversized")],
                      [victim_json, "too large for an OpenPose frame file", "at most 4 MB"],
                      must_not_exist=[dbs / "json-oversized"]))

    # ---------------------------------------------------------------- frame rates and size-like options
    rec = _json_recording(sa1, root / "json-fps-sidecar-tiny" / "sa1", fps=0.0001)
    cases.append(Case("json-fps-sidecar-tiny", "cli-value", ["build-db", str(rec), "--db",
                                                             str(dbs / "json-fps-sidecar-tiny")],
                      ["fps.txt", "not plausible", "1-1000"], must_not_exist=[dbs / "json-fps-sidecar-tiny"]))
    for cid, extra, expect in [("cli-fps-tiny", ["--fps", "0.0001"], ["--fps 0.0001", "1-1000"]),
                               ("cli-fps-huge", ["--fps", "1e9"], ["--fps", "1-1000"]),
                               ("cli-workers-huge", ["--workers", "1000000"], ["--workers"]),
                               ("cli-workers-zero", ["--workers", "0"], ["--workers"]),
                               ("cli-max-gap-huge", ["--max-gap", "1000000000"], ["max_gap"])]:
        target = dbs / cid
        no_fps = root / f"{cid}-rec" / "sa1"
        _json_recording(sa1, no_fps)
        (no_fps / "fps.txt").unlink()
        cases.append(Case(cid, "cli-value", ["build-db", str(no_fps), "--db", str(target), *extra], expect,
                          must_not_exist=[target]))
    cases.append(Case("cli-match-fps-tiny", "cli-value", ["match", str(sa1), "--db", str(base), "--out",
                                                          str(out / "cli-match-fps-tiny"), "--fps", "0.0001"],
                      ["--fps"], must_not_exist=[out / "cli-match-fps-tiny"]))
    cases.append(Case("cli-track-upsample-huge", "cli-value", ["track", str(video), "--out",
                                                               str(out / "cli-track-upsample"), "--upsample", "40"],
                      ["upsample"], must_not_exist=[out / "cli-track-upsample"]))
    cases.append(Case("cli-guard-negative", "cli-value", ["evaluate", str(good.parent), "--out",
                                                          str(out / "cli-guard"), "--guard", "-1", "--fps", "25"],
                      ["--guard"], must_not_exist=[out / "cli-guard"]))
    return cases


def _float_wav(path: Path, samples, rate: int = 16000) -> Path:
    """A 32-bit float WAV (format 3), which may hold any value: NaN, infinities, 1e30."""
    import struct

    data = np.asarray(samples, "<f4").tobytes()
    fmt = struct.pack("<HHIIHH", 3, 1, rate, rate * 4, 4, 32)
    path.write_bytes(b"RIFF" + struct.pack("<I", 4 + 8 + len(fmt) + 8 + len(data)) + b"WAVE" + b"fmt " +
                     struct.pack("<I", len(fmt)) + fmt + b"data" + struct.pack("<I", len(data)) + data)
    return path


def hostile_cases(root: Path, sa1: Path, good: Path, dbs: Path, out: Path) -> list[Case]:
    """Inputs made to hang, exhaust memory or overflow: each must be one line, bounded in time and memory."""
    from sketchsynth import FrameDatabase

    cases: list[Case] = []
    h = root / "hostile"
    h.mkdir()

    def manifest_db(cid, make, expect):
        path = dbs / cid
        FrameDatabase(fps=25).build(good, path=path)
        (path / "manifest.json").unlink()
        make(path / "manifest.json")
        cases.append(Case(cid, "hostile", ["match", str(good), "--db", str(path), "--out", str(out / cid)], expect,
                          must_not_exist=[out / cid]))

    manifest_db("hostile-manifest-fifo", os.mkfifo, ["manifest.json", "not a regular file"])
    manifest_db("hostile-manifest-dev-zero", lambda p: p.symlink_to("/dev/zero"), ["not a regular file"])
    manifest_db("hostile-manifest-deep", lambda p: p.write_text("[" * 100_000 + "]" * 100_000),
                ["manifest.json is unreadable"])
    sparse = h / "sparse-fps"
    _json_recording(sa1, sparse)
    with open(sparse / "fps.txt", "wb") as f:
        f.truncate(2 << 30)  # 2 GB, no blocks
    cases.append(Case("hostile-fps-sparse", "hostile", ["build-db", str(sparse), "--db", str(dbs / "fps-sparse")],
                      ["fps.txt", "one positive number"], must_not_exist=[dbs / "fps-sparse"]))
    FrameDatabase(fps=25).build(good, path=dbs / "hostile-db")
    fifo = h / "list.fifo"
    os.mkfifo(fifo)
    options = {"hostile-seam-blend-huge": (["match", str(good), "--db", str(dbs / "hostile-db"), "--seam-blend",
                                            "99999999999999999999"], ["--seam-blend"]),
               "hostile-smooth-nan": (["match", str(good), "--db", str(dbs / "hostile-db"), "--smooth", "nan"],
                                      ["--smooth", "finite"]),
               "hostile-person-superscript": (["build-db", str(good), "--person", "\u00b2"], ["--person"]),
               "hostile-scheduler-no-port": (["build-db", str(good), "--scheduler", "tcp://127.0.0.1"],
                                             ["--scheduler", "port"]),
               "hostile-scheduler-many": (["build-db", str(good), "--scheduler", "local:100000"], ["local:N"]),
               "hostile-holdout-fifo": (["evaluate", str(good.parent), "--holdout", f"@{fifo}", "--fps", "25"],
                                        ["not a regular file"]),
               "hostile-holdout-digits": (["evaluate", str(good.parent), "--holdout", "every:" + "9" * 5000 + ":1",
                                           "--fps", "25"], ["--holdout"]),
               "hostile-lle-reg-nan": (["fit-speech", "--db", str(dbs / "hostile-db"), "--lle-reg", "nan"],
                                       ["--lle-reg"])}
    for cid, (args, expect) in options.items():
        target = out / cid
        flag = "--db" if args[0] == "build-db" else "--out"
        if args[0] != "fit-speech":
            args = [*args, flag, str(target)]
        cases.append(Case(cid, "hostile", args, expect, must_not_exist=[target]))
    return cases


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        raise SystemExit("usage: python tests/corpus/make_corpus.py OUTDIR")
    shared = Path(os.environ.get("SKETCHSYNTH_SHARED_DATA", Path(__file__).resolve().parents[3] / "shared" / "data"))
    target = Path(argv[0])
    if target.exists():
        shutil.rmtree(target)
    for c in build_corpus(target, shared):
        print(f"{c.id:36s} sketchsynth {' '.join(c.args)}")


if __name__ == "__main__":
    main()
