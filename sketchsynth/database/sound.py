"""The recordings' sound in a frame database: 16 kHz waveform, LSP log-mel, and each frame's mel index.

``build-db`` keeps every recording's audio (a video's sound track; for a folder of
OpenPose JSON or a landmark array, an audio file of the same name beside it --
``sa1.wav`` beside ``sa1/`` or ``sa1.npy`` -- or ``audio.*`` inside the folder) and
writes three data files, checksummed in the manifest like the others:

- ``audio.npy``      (S,) int16: the recordings' sound at 16 kHz mono, concatenated;
- ``mel.npy``        (M, 80) float32: LSP's log-mel front end
  (:class:`sketchsynth.database.speech_features.LogMel`) of each recording, concatenated,
  at the mel rate (hop 133 samples = 1/120.3 s); mel frame ``i`` of a recording
  is centred on its audio sample ``i * hop``;
- ``mel_index.npy``  (N,) int64: per database frame, the row of ``mel.npy`` whose
  centre is nearest the frame's own timestamp (``time_s``), -1 without sound.

Audio sample 0 is time 0 of the recording's timeline: a video's container
timeline (the one ``time_s`` is on), or ``frame / fps`` for JSON and arrays. The
manifest's ``audio`` section lists, per recording, where its samples and mel
frames are (``wav_first``, ``wav_count``, ``mel_first``, ``mel_count``) or why
it has none (``"no audio"``, ``"silent"``) -- never a guess.
"""

from __future__ import annotations

import importlib.util
import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import InputError, install_hint


SAMPLE_RATE = 16000
AUDIO_EXTENSIONS = (".wav", ".flac", ".mp3", ".m4a", ".ogg", ".opus", ".aac", ".wma")
AUDIO_FILES = ("audio.npy", "mel.npy", "mel_index.npy")
NO_AUDIO, SILENT = "no audio", "silent"


def find_audio(kind: str, path: str, video: str | None = None) -> str | None:
    """The file holding a recording's sound, or None.

    Parameters
    ----------
    kind : {"openpose", "landmarks", "video"}
    path : path
        The recording (folder of JSON, array file or video).
    video : path, optional
        Its video, when it has one.
    """
    if kind == "video" or video:
        return os.fspath(video or path)
    p = Path(path)
    if kind == "openpose":
        # the names asked for, not a listing: the folder holds a file per frame
        for ext in sorted(AUDIO_EXTENSIONS):
            for e in (ext, ext.upper()):
                if (p / ("audio" + e)).is_file():
                    return os.fspath(p / ("audio" + e))
        stem = p
    else:
        stem = p.with_suffix("")
    for ext in AUDIO_EXTENSIONS:
        for e in (ext, ext.upper()):
            q = stem.parent / (stem.name + e)
            if q.is_file():
                return os.fspath(q)
    return None


def read_recording_audio(source: str | None):
    """(samples float32 at 16 kHz, status) of one recording; status "" when it has sound."""
    from ..io.audio import is_silent, load_audio

    if source is None:
        return None, NO_AUDIO
    try:
        y = load_audio(source, SAMPLE_RATE)
    except InputError as e:
        if "no audio stream" in e.message:
            return None, NO_AUDIO
        raise
    if is_silent(y, SAMPLE_RATE):
        return None, SILENT
    return y, ""


def mel_rows_for_times(time_s: np.ndarray, hop_s: float, mel_first: int, mel_count: int) -> np.ndarray:
    """Row of ``mel.npy`` nearest each time of one recording, shape (n,), int64 (-1 beyond its sound)."""
    i = np.rint(np.asarray(time_s, np.float64) / hop_s).astype(np.int64)
    return np.where((i >= 0) & (i < mel_count), mel_first + i, -1)


def add_audio(folder, readers, progress: bool = False, features: str = "log-mel") -> dict:
    """Write the audio files of a database just built in ``folder`` and list them in its manifest.

    Parameters
    ----------
    folder : path
        A database folder written by :func:`sketchsynth.database.build.build_database`.
    readers : list of RecordingReader
        The recordings, in the database's order.
    features : str
        The speech feature extractor (:data:`sketchsynth.database.speech_features.FEATURES`).

    Returns
    -------
    dict
        The manifest's ``audio`` section (``recordings`` with sound are those
        with a ``mel_count``).
    """
    from tqdm import tqdm

    from .speech_features import extractor_section, make_extractor

    folder = Path(folder)
    missing = [m for m in ("av", "librosa") if importlib.util.find_spec(m) is None]
    if missing:
        # sound needs the speech extra; a keypoint database builds without it, and says so
        why = f"not kept: {' and '.join(missing)} not installed ({install_hint('speech')})"
        section = {"sample_rate": SAMPLE_RATE, "not_kept": why, "with_audio": 0,
                   "recordings": [{"name": r.name, "status": why} for r in readers],
                   "without_audio": [r.name for r in readers]}
        update_manifest(folder, {}, {"audio": section})
        return section
    front = make_extractor(features, sr=SAMPLE_RATE)
    hop_s = front.hop_length / SAMPLE_RATE
    waves, mels, entries = [], [], []
    n = sum(r.n_frames for r in readers)
    mel_index = np.full(n, -1, dtype=np.int64)
    wav_pos = mel_pos = row = 0
    any_sound = False
    for r in tqdm(readers, desc="audio", unit="recording", disable=None if progress else True, leave=False):
        src = find_audio(r.kind, r.path, r.video)
        try:
            y, status = read_recording_audio(src)
        except InputError as e:
            if r.kind != "video":
                raise  # an audio file put beside the keypoints must be sound
            y, status = None, f"unreadable audio ({e.message})"  # the video's frames still count
        entry = {"name": r.name, "source": None if src is None else os.path.abspath(src)}
        if y is not None and y.size >= front.win_length:
            mel = front.transform(y)
            entry.update(wav_first=wav_pos, wav_count=int(y.size), mel_first=mel_pos, mel_count=len(mel),
                         duration_s=y.size / SAMPLE_RATE)
            mel_index[row:row + r.n_frames] = mel_rows_for_times(r.time_s, hop_s, mel_pos, len(mel))
            waves.append(np.clip(np.rint(y * 32767.0), -32768, 32767).astype(np.int16))
            mels.append(mel)
            wav_pos += y.size
            mel_pos += len(mel)
            any_sound = True
        else:
            entry["status"] = status or SILENT
        entries.append(entry)
        row += r.n_frames
    section = {"sample_rate": SAMPLE_RATE, "features": extractor_section(front, features), "hop_s": hop_s,
               "recordings": entries, "with_audio": sum("mel_count" in e for e in entries),
               "without_audio": [e["name"] for e in entries if "mel_count" not in e]}
    files = {}
    if any_sound:
        np.save(folder / "audio.npy", np.concatenate(waves))
        np.save(folder / "mel.npy", np.concatenate(mels).astype(np.float32))
        np.save(folder / "mel_index.npy", mel_index)
        files = {f: folder / f for f in AUDIO_FILES}
    update_manifest(folder, files, {"audio": section})
    return section


def update_manifest(folder, files: dict, sections: dict, drop: tuple = (), entries: dict | None = None) -> dict:
    """Add files (name -> path inside ``folder``, checksummed now), file entries given whole (``entries``) and
    sections to a manifest, atomically."""
    from .format import FORMAT_VERSION
    from ..io.storage import exclusive_temp, sha256_file

    folder = Path(folder)
    mpath = folder / "manifest.json"
    man = json.loads(mpath.read_text())
    for name in drop:
        man["files"].pop(name, None)
    for name, p in files.items():
        man["files"][name] = {"bytes": Path(p).stat().st_size, "sha256": sha256_file(p)}
    man["files"].update(entries or {})
    man.update(sections)
    man["format_version"] = FORMAT_VERSION
    tmp = exclusive_temp(folder, "manifest.json")
    try:
        with open(tmp, "w") as fh:
            fh.write(json.dumps(man, indent=1))
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, mpath)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return man


@dataclass
class DatabaseAudio:
    """A database's sound, as loaded.

    Attributes
    ----------
    wave : np.ndarray, shape (S,), int16
        16 kHz mono, recordings concatenated.
    mel : np.ndarray, shape (M, 80), float32
    mel_index : np.ndarray, shape (N,), int64
        Per database frame, its mel row (-1: no sound).
    info : dict
        The manifest's ``audio`` section.
    """

    wave: np.ndarray
    mel: np.ndarray
    mel_index: np.ndarray
    info: dict

    @property
    def hop_s(self) -> float:
        return float(self.info["hop_s"])

    def recordings(self):
        """Manifest entries of the recordings with sound."""
        return [e for e in self.info["recordings"] if "mel_count" in e]

    def samples(self, entry: dict) -> np.ndarray:
        """One recording's waveform, float32 in [-1, 1], shape (wav_count,)."""
        a = entry["wav_first"]
        return self.wave[a:a + entry["wav_count"]].astype(np.float32) / 32767.0

    def recording_mel(self, entry: dict):
        """(mel (m, 80), centre times (m,) in seconds) of one recording."""
        a, m = entry["mel_first"], entry["mel_count"]
        return self.mel[a:a + m], np.arange(m) * self.hop_s


def open_audio(path, man: dict, in_memory: bool, read) -> DatabaseAudio | None:
    """The audio of a loaded database, or None when it has none (older format, or no sound)."""
    info = man.get("audio")
    if not info or not all(f in man.get("files", {}) for f in AUDIO_FILES):
        return None
    from ..io.npy import load_npy

    mode = None if in_memory else "r"
    arrays = [read(f, lambda p: np.asarray(load_npy(p, mmap_mode=mode))) for f in AUDIO_FILES]
    return DatabaseAudio(*arrays, info=info)


MIN_SPEECH_MINUTES = 2.0
"""Below this much sound the speech model follows a voice noticeably more loosely. Measured on GRID s1 (50 held-out
sentences driving databases of N other sentences, selected-frame opening r at the default λ,
``benchmarks/speech_minutes.py``): 0.5 min 0.72, 1 min 0.76, 2 min 0.80, 4 min 0.81, 8 min 0.84, 16 min 0.86,
35 min 0.865; the steep part ends near 2 minutes (docs/measurements.md)."""


def sound_minutes(man: dict) -> float:
    """Minutes of sound a database's manifest lists (0 without audio)."""
    info = man.get("audio") or {}
    recs = info.get("recordings") if isinstance(info, dict) and not info.get("not_kept") else None
    return sum(float(e.get("duration_s", 0)) for e in recs or () if isinstance(e, dict) and "mel_count" in e) / 60


def little_sound_warning(man: dict) -> str | None:
    """A warning when a database with sound holds less than :data:`MIN_SPEECH_MINUTES` of it, else None."""
    minutes = sound_minutes(man)
    if not 0 < minutes < MIN_SPEECH_MINUTES:
        return None
    return (f"the database holds {minutes * 60:.0f} s of sound; its speech model follows a voice more loosely "
            f"below {MIN_SPEECH_MINUTES:g} minutes (one speaker on GRID: opening r 0.72 with 30 s, 0.80 with 2 min, "
            "0.865 with 35 min): record more of the speaker for sound- and text-driven use")


def describe_audio(man: dict) -> str:
    """'audio: 800 of 800 recordings (40.1 min)' or 'no audio'."""
    info = man.get("audio")
    if not info:
        return "no audio (database format 1, or built before audio was kept)"
    if info.get("not_kept"):
        return f"audio {info['not_kept']}"
    recs = info["recordings"]
    with_sound = [e for e in recs if "mel_count" in e]
    if not with_sound:
        return "no audio (no recording has sound)"
    minutes = sum(e["duration_s"] for e in with_sound) / 60
    txt = f"audio: {len(with_sound)} of {len(recs)} recordings ({minutes:.1f} min)"
    if info.get("without_audio"):
        shown = ", ".join(info["without_audio"][:3]) + (" ..." if len(info["without_audio"]) > 3 else "")
        txt += f"; without sound: {shown}"
    return txt
