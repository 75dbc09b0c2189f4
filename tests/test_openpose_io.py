"""Reading and writing OpenPose JSON on the real tracks."""

import os

import numpy as np
import orjson
import pytest

from sketchsynth.errors import InputError
from sketchsynth.io import openpose, openpose_files
from sketchsynth.io._jsonscan import FALLBACK, scan
from sketchsynth.io.openpose import parse_frame, read_openpose_folder
from sketchsynth.io.openpose_files import list_frame_files
from sketchsynth.io.openpose_write import write_openpose_folder


def test_reads_the_henan_take_in_numeric_order(henan_dir):
    fr = read_openpose_folder(henan_dir)
    assert fr.keypoints.shape == (10_820, 70, 3) and fr.keypoints.dtype == np.float32
    assert (np.diff(fr.frames) > 0).all() and fr.frames[0] == 1 and fr.frames[-1] == 11_000
    # the one hole in the take: 180 frame numbers missing
    assert np.diff(fr.frames).max() == 181
    first = orjson.loads((henan_dir / "00001_keypoints.json").read_bytes())
    np.testing.assert_array_equal(fr.keypoints[0].reshape(-1),
                                  np.float32(first["people"][0]["face_keypoints_2d"]))


def test_frame_numbers_sort_numerically_not_lexically(fadg0_dir, tmp_path):
    src = sorted((fadg0_dir / "sa1").iterdir())[:12]
    for i, p in enumerate(src):  # names 'x_9_keypoints.json' < 'x_10_...' only numerically
        (tmp_path / f"x_{i}_keypoints.json").write_bytes(p.read_bytes())
    names, frames = list_frame_files(tmp_path)
    assert frames.tolist() == list(range(12))
    assert names[2] == "x_2_keypoints.json" and names[10] == "x_10_keypoints.json"


def test_fadg0_files_count_from_zero(fadg0_dir):
    names, frames = list_frame_files(fadg0_dir / "sa1")
    assert frames[0] == 0 and len(frames) == 120 and names[0] == "sa1_000_keypoints.json"


def test_round_trip_is_exact(fadg0_dir, tmp_path):
    fr = read_openpose_folder(fadg0_dir / "si1279")
    write_openpose_folder(tmp_path / "out", fr.keypoints, fr.frames, prefix="si1279")
    back = read_openpose_folder(tmp_path / "out")
    np.testing.assert_array_equal(back.keypoints, fr.keypoints)
    np.testing.assert_array_equal(back.frames, fr.frames)
    assert back.files[0] == f"si1279_{fr.frames[0]:012d}_keypoints.json"


def test_nan_frames_are_written_without_people(tmp_path):
    kp = np.zeros((2, 70, 3), np.float32)
    kp[0] = 1.0
    kp[1] = np.nan
    write_openpose_folder(tmp_path, kp)
    doc = orjson.loads((tmp_path / "frame_000000000001_keypoints.json").read_bytes())
    assert doc["people"] == []
    fr = read_openpose_folder(tmp_path)
    assert fr.n_people.tolist() == [1, 0]


def _doc(faces):
    return orjson.dumps({"version": 1.3, "people": [{"person_id": [-1], "face_keypoints_2d": f} for f in faces]})


def test_several_people_keep_the_largest_face(fadg0_dir):
    real = orjson.loads((fadg0_dir / "sa1" / "sa1_010_keypoints.json").read_bytes())
    big = real["people"][0]["face_keypoints_2d"]
    small = np.asarray(big).reshape(70, 3)
    small[:, :2] = small[:, :2] * 0.3 + 5
    data = _doc([small.reshape(-1).tolist(), big])
    face, n = parse_frame(data, "x.json")
    assert n == 2
    np.testing.assert_array_equal(face.reshape(-1), np.float32(big))
    first, _ = parse_frame(data, "x.json", person="first")
    np.testing.assert_allclose(first[:, :2], small[:, :2], rtol=1e-6)
    by_index, _ = parse_frame(data, "x.json", person=0)
    np.testing.assert_array_equal(by_index, first)


def _corruptions(data: bytes):
    """Variants of a real file: some still valid, most not."""
    yield data
    yield data[: len(data) // 2]                                   # truncated
    yield data[:-1]                                                # missing last brace
    yield data + b" x"                                             # trailing junk
    yield data.replace(b'"people"', b'"persons"', 1)                # no people
    yield data.replace(b"face_keypoints_2d", b"face_keypoints_2e", 1)  # no face
    yield data.replace(b'"face_keypoints_2d":[', b'"face_keypoints_2d":["1",', 1)  # string
    yield data.replace(b'"face_keypoints_2d":[', b'"face_keypoints_2d":[NaN,', 1)
    yield data.replace(b'"face_keypoints_2d":[', b'"face_keypoints_2d":[1e400,', 1)
    yield data.replace(b'"face_keypoints_2d":[', b'"face_keypoints_2d":[-5e7,7,', 1)
    yield data.replace(b'"face_keypoints_2d":[', b'"face_keypoints_2d":[1.0,2.0,', 1)  # 212 values
    yield (data.replace(b'"face_keypoints_2d":[', b'"face_keypoints_2d":[[', 1)
           .replace(b'],"hand_left', b']],"hand_left', 1))
    yield data.replace(b'"people":[{', b'"people":[{"face_keypoints_2d":[],', 1)  # duplicate key
    yield data.replace(b'"version"', b'"v\\u0065rsion"', 1)
    yield data.replace(b"0.", b"00.", 1)
    yield data.replace(b"{", b"[", 1)
    yield b""
    yield b"   \n"
    yield b'{"people":[]}'
    yield b'{"people":{}}'
    yield b'{"people":[1]}'
    yield b'{"people":[{"face_keypoints_2d":[]}]}'


def _reference(data):
    try:
        face, n = parse_frame(data, "x.json")
    except InputError:
        return "error"
    return (np.zeros((70, 3), np.float32) if face is None else face), n


@pytest.mark.parametrize("sub", ["sa1", "si1909"])
def test_numba_scanner_agrees_with_orjson(fadg0_dir, henan_dir, sub):
    files = sorted((fadg0_dir / sub).iterdir())[:5] + sorted(henan_dir.iterdir())[:5]
    cases = [c for f in files for c in _corruptions(f.read_bytes())]
    offsets = np.zeros(len(cases) + 1, np.int64)
    np.cumsum([len(c) for c in cases], out=offsets[1:])
    faces, n_people, status = scan(b"".join(cases), offsets, openpose.MAX_COORDINATE)
    accepted = 0
    for i, c in enumerate(cases):
        ref = _reference(c)
        if status[i] == FALLBACK:
            continue  # the full parser decides; nothing to compare
        accepted += 1
        assert ref != "error", f"scanner accepted a document orjson rejects: case {i % 22}"
        np.testing.assert_array_equal(faces[i], ref[0])
        assert n_people[i] == ref[1]
    assert accepted >= len(files)  # every pristine file takes the fast path


def test_reader_reports_the_bad_file_by_name(fadg0_dir, tmp_path):
    d = tmp_path / "rec"
    d.mkdir()
    for p in sorted((fadg0_dir / "sa2").iterdir())[:5]:
        (d / p.name).write_bytes(p.read_bytes())
    bad = d / "sa2_003_keypoints.json"
    bad.write_bytes(bad.read_bytes()[:300])
    with pytest.raises(InputError, match="sa2_003_keypoints.json: truncated or not valid JSON"):
        read_openpose_folder(d)


def test_small_jobs_read_without_the_kernels_agree_with_them(fadg0_dir, henan_dir, monkeypatch, tmp_path):
    """Before the numba scanner and name parser are compiled, small jobs take orjson and a regular
    expression (sketchsynth._jit): the same names, frames, faces and counts, and the same first error."""
    import sketchsynth._jit as jit

    names = sorted(os.listdir(henan_dir))[:400]
    for n in names:
        (tmp_path / n).write_bytes((henan_dir / n).read_bytes())
    (tmp_path / names[7]).write_bytes(b'{"version":1.3,"people":[{"face_keypoints_2d":[]},{"face_keypoints_2d":'
                                      + orjson.dumps([1.5] * 210) + b"}]}")  # two people: orjson either way

    def read_all(folder):
        listed = list_frame_files(folder), list_frame_files(folder, as_array=True)
        fr = read_openpose_folder(folder)
        return listed[0][0], listed[0][1], listed[1][0], fr.keypoints, fr.n_people

    folders = [fadg0_dir / "sa1", fadg0_dir / "si1279", tmp_path]
    kernels = [read_all(f) for f in folders]
    monkeypatch.setattr(jit, "worth_it", lambda dispatcher, n: False)
    for got, want in zip([read_all(f) for f in folders], kernels):
        assert got[0] == want[0]
        for a, b in zip(got[1:], want[1:]):
            assert a.dtype == b.dtype
            np.testing.assert_array_equal(a, b)
    bad = tmp_path / names[3]
    bad.write_bytes(bad.read_bytes()[:300])
    with pytest.raises(InputError, match=f"{names[3]}: truncated or not valid JSON"):
        read_openpose_folder(tmp_path)


def test_kernel_readiness_is_known():
    from sketchsynth._jit import KERNEL_MIN_ITEMS, ready, worth_it
    from sketchsynth.io._jsonscan import read_faces

    assert worth_it(read_faces, KERNEL_MIN_ITEMS)  # a large job compiles it if need be
    assert ready(read_faces) == worth_it(read_faces, 1)


def test_parallel_and_serial_reads_agree(henan_dir):
    a = read_openpose_folder(henan_dir, n_workers=1)
    b = read_openpose_folder(henan_dir, n_workers=2, parallel_threshold=100)
    np.testing.assert_array_equal(a.keypoints, b.keypoints)
    np.testing.assert_array_equal(a.n_people, b.n_people)


def _reader_cases(fadg0_dir, henan_dir, folder):
    """Real files, their corruptions, several people, and a file larger than the reader's first buffer."""
    files = sorted((fadg0_dir / "sa1").iterdir())[:3] + sorted(henan_dir.iterdir())[:3]
    cases = [c for f in files for c in _corruptions(f.read_bytes())]
    real = orjson.loads(files[-1].read_bytes())
    cases.append(_doc([real["people"][0]["face_keypoints_2d"]] * 2))
    cases.append(files[-1].read_bytes().replace(b'"people"', b" " * 100_000 + b'"people"', 1))
    folder.mkdir()
    names = []
    for i, data in enumerate(cases):
        names.append(f"x_{i:03d}_keypoints.json")
        (folder / names[-1]).write_bytes(data)
    return names


def _read(reader, folder, names, person="largest"):
    faces = np.full((len(names), 70, 3), np.nan, np.float32)
    n_people = np.full(len(names), -1, np.int16)
    try:
        reader(str(folder), names, person, faces, n_people)
    except InputError as e:
        return str(e)
    return faces, n_people


@pytest.mark.parametrize("as_bytes", [False, True])
def test_numba_reader_agrees_with_the_python_reader(fadg0_dir, henan_dir, tmp_path, as_bytes):
    """The kernel that opens and reads the files itself gives what reading them from Python gives."""
    names = _reader_cases(fadg0_dir, henan_dir, tmp_path / "rec")
    if as_bytes:
        names = np.array([n.encode() for n in names])
    valid = [i for i in range(len(names)) if _reference((tmp_path / "rec" / os.fsdecode(names[i])).read_bytes())
             != "error"]
    assert 10 < len(valid) < len(names)
    for person in ("largest", "first"):
        ref = _read(openpose._read_chunk_python, tmp_path / "rec", names[valid] if as_bytes else
                    [names[i] for i in valid], person)
        got = _read(openpose._read_chunk, tmp_path / "rec", names[valid] if as_bytes else
                    [names[i] for i in valid], person)
        np.testing.assert_array_equal(got[0], ref[0])
        np.testing.assert_array_equal(got[1], ref[1])
    # the whole folder: both stop at the first invalid file, with the same message
    first_bad = _read(openpose._read_chunk_python, tmp_path / "rec", names)
    assert isinstance(first_bad, str) and first_bad == _read(openpose._read_chunk, tmp_path / "rec", names)


def test_numba_reader_reports_unreadable_files_before_invalid_ones(henan_dir, tmp_path):
    d = tmp_path / "rec"
    d.mkdir()
    for p in sorted(henan_dir.iterdir())[:5]:
        (d / p.name).write_bytes(p.read_bytes())
    names = sorted(p.name for p in d.iterdir())
    (d / names[1]).write_bytes(b"{")
    (d / "gone_keypoints.json").mkdir()  # open succeeds, read fails
    for reader in (openpose._read_chunk, openpose._read_chunk_python):
        msg = _read(reader, d, names + ["gone_keypoints.json"])
        assert msg.endswith("gone_keypoints.json: cannot read (Is a directory)"), msg
        msg = _read(reader, d, names + ["missing_keypoints.json"])
        assert msg.endswith("missing_keypoints.json: cannot read (No such file or directory)"), msg
        assert "truncated or not valid JSON" in _read(reader, d, names)


def _list_frame_files_reference(folder):
    """Listing with a regular expression per name (what the numba kernel replaces), same errors."""
    names = [e.name for e in os.scandir(folder) if e.name.lower().endswith(".json") and e.is_file()]
    if not names:
        raise InputError("no OpenPose JSON files (*_keypoints.json) in this folder", folder)
    names = [n for n in names if n.lower().endswith("_keypoints.json")] or names
    numbers = [openpose_files.frame_number(n) for n in names]
    missing = [n for n, f in zip(names, numbers) if f is None]
    if missing:
        raise InputError(f"{missing[0]}: no frame number in the file name "
                         "(expected e.g. name_000000000012_keypoints.json)", folder)
    order = np.argsort(np.asarray(numbers, dtype=np.int64), kind="stable")
    names, frames = [names[i] for i in order], np.asarray(numbers, dtype=np.int64)[order]
    dup = np.flatnonzero(np.diff(frames) == 0)
    if dup.size:
        raise InputError(f"{names[dup[0]]} and {names[dup[0] + 1]} carry the same frame number {frames[dup[0]]}",
                         folder)
    return names, frames


@pytest.mark.parametrize("names", [
    ["x_9_keypoints.json", "x_10_keypoints.json", "x_1_KEYPOINTS.JSON", "y_3.json", "notes.txt",
     "dir_0_keypoints.json/"],
    ["a12.json", "b7.Json", "c0012.json", "8.json", "x_keypoints_5.json"],
    ["a12.json", "c.json"],
    ["7_keypoints.json", "007_keypoints.json"],
    ["readme.md", "dir.json/"],
    ["k_\u0663_keypoints.json", "k_2_keypoints.json", "\u00fc_1_keypoints.json", "7_\u212aeypoints.json"],
    ["\u00e9t\u00e9_4.json", "\u00e9t\u00e9_3.json"],
    ["1234567890123456789_keypoints.json", "123456789012345678_keypoints.json", "_keypoints.json"],
])
def test_listing_kernel_agrees_with_the_regular_expression(tmp_path, names):
    for n in names:
        (tmp_path / n).mkdir() if n.endswith("/") else (tmp_path / n).write_bytes(b"{}")
    try:
        ref = _list_frame_files_reference(tmp_path)
    except InputError as e:
        ref = str(e)
    for as_array in (False, True):
        try:
            got = list_frame_files(tmp_path, as_array=as_array)
        except InputError as e:
            assert str(e) == ref
            continue
        np.testing.assert_array_equal(got[1], ref[1])
        assert [os.fsdecode(n) for n in got[0]] == ref[0]


def test_file_names_go_to_arrow_as_decoded_strings():
    import pyarrow as pa

    from sketchsynth.io._names import to_arrow

    for names in (["a_1_keypoints.json", "b", ""], ["\u00e9_2.json", "c_3.json"], []):
        arr = np.array([os.fsencode(n) for n in names] + [b"0" * 3], dtype="S40")[:len(names)]
        assert to_arrow(arr).equals(pa.array(names, type=pa.string()))


_NUMBER_STYLES = {
    "shortest": lambda v: repr(float(v)),
    "17 digits": lambda v: f"{v:.17g}",
    "long fraction": lambda v: f"{v:.12f}",
    "exponent": lambda v: f"{v:.6e}",
    "integers": lambda v: str(int(v)),
    "spaced": lambda v: f" {v:g}\n",
    "signed zero": lambda v: "-0.0" if v == 0 else f"{v:g}",
    "ten decimals": lambda v: f"{v:.10f}",
    "many digits": lambda v: f"{v * 1e-8:.20f}",
}


@pytest.mark.parametrize("style", sorted(_NUMBER_STYLES))
def test_numba_scanner_reads_numbers_as_orjson_does(henan_dir, style):
    """Face values written every way JSON allows parse to the same float32 (or go to orjson)."""
    doc = orjson.loads((henan_dir / "00417_keypoints.json").read_bytes())
    face = np.asarray(doc["people"][0]["face_keypoints_2d"])
    face[:9] = [0, -0.5, 1e-3, 123456.125, -0.1, 7, 99999.5, 1.5e-7, 0.87654321]  # x, y, c of three points
    fmt = _NUMBER_STYLES[style]
    text = b"[" + b",".join(fmt(v).encode() for v in face) + b"]"
    data = orjson.dumps(doc).replace(orjson.dumps(doc["people"][0]["face_keypoints_2d"]), text)
    alone = b'{"people":[{"face_keypoints_2d":' + text + b"}]}"  # the face ends the buffer: no bytes to spare
    accepted = 0
    for case in (data, alone):
        faces, n_people, status = scan(case, np.array([0, len(case)]), openpose.MAX_COORDINATE)
        ref = _reference(case)
        if status[0] == FALLBACK:
            continue
        accepted += 1
        assert ref != "error"
        np.testing.assert_array_equal(faces[0], ref[0])
        assert n_people[0] == ref[1]
    assert accepted or style in ("17 digits", "long fraction", "many digits")  # past Clinger's fast path: orjson


@pytest.mark.parametrize("array", [b"[1,]", b"[,1]", b"[1 2]", b"[01]", b"[1.]", b"[.5]", b"[1e]", b"[1e+]", b"[-]",
                                   b"[--1]", b"[1,,2]", b"[1 , 2 ,3]", b"[-0, 0.0, 1E2, 2e-2]", b"[1]x"])
def test_numba_scanner_number_grammar(array):
    """Arrays of numbers in and outside the face: the scanner accepts only what orjson accepts."""
    for data in (b'{"people":[{"pose_keypoints_2d":' + array + b',"face_keypoints_2d":[]}],"version":1.3}',
                 b'{"version":' + array[1:-1].split(b",")[0] + b',"people":[]}'):
        faces, n_people, status = scan(data, np.array([0, len(data)]), openpose.MAX_COORDINATE)
        if status[0] != FALLBACK:
            assert _reference(data) != "error", data
