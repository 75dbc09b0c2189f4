"""Other people's voices drive a database; their own tracked faces are the truth.

A driver is a clip of someone else speaking (a video with sound; a sound file alone is measured for amplitude
only). Its sound drives the database through the speech pipeline (features -> speech target -> Viterbi), and the
selected frames' inner-lip opening (in their own pixels) is compared with the driver's own tracked opening:

- opening r: Pearson r, each clip's mean removed, frames pooled over the clips of a group (and over all);
- std ratio: per clip std(selected opening) / std(driver's opening), the median over the clips;
- amplitude vs the speaker: per clip std(selected opening) / the median std of the database's own recordings'
  openings (for every clip, with or without a face);
- the voice-distance ratio (the database's own model) and the model that drove.

Drivers come from a folder (every video and sound file in it, grouped by their first sub-folder) or a list file,
one ``GROUP PATH [PIECE_SECONDS]`` per line (paths relative to the list; a long take is cut into pieces of that
length, named ``GROUP/STEM#i``). A split file ``{"SET": [clip names]}`` restricts the clips to one set.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from ..errors import InputError
from ..database.sound import AUDIO_EXTENSIONS
from ..sources.recordings import VIDEO_EXTENSIONS
from .metrics import table_cell

MIN_FRAMES = 40
"""Shortest piece kept, frames."""


def list_drivers(source) -> list[tuple[str, str, float | None]]:
    """(group, path, piece seconds or None) of every driver a folder or a list file names."""
    p = Path(source)
    if p.is_file():
        out = []
        for i, line in enumerate(p.read_text().splitlines(), 1):
            parts = line.split("#", 1)[0].split() if not line.lstrip().startswith("#") else []
            if not parts:
                continue
            if len(parts) not in (2, 3):
                raise InputError(f"line {i}: expected GROUP PATH [PIECE_SECONDS], got {line!r}", p)
            path = (p.parent / parts[1]).resolve()
            if not path.is_file():
                raise InputError(f"line {i}: {parts[1]} is not a file", p)
            out.append((parts[0], os.fspath(path), float(parts[2]) if len(parts) == 3 else None))
        return out
    if not p.is_dir():
        raise InputError("drivers must be a folder of clips or a list file (GROUP PATH [PIECE_SECONDS] per line)", p)
    files = sorted(f for f in p.rglob("*") if f.is_file() and f.suffix.lower() in VIDEO_EXTENSIONS + AUDIO_EXTENSIONS)
    return [(f.relative_to(p).parts[0] if len(f.relative_to(p).parts) > 1 else p.name, os.fspath(f), None)
            for f in files]


def load_drivers(source, names=None, progress=None) -> dict:
    """Driver clips: ``{name: {"group", "audio" (16 kHz float32), "time_s", "opening", "width", "fps"}}``.

    ``opening``/``width`` are the driver's own (inner lips 62-66 and lip corners over the inter-ocular distance;
    NaN without a face; None for a sound file). ``names``: keep only these clip names.
    """
    from ..io.audio import load_audio
    from ..sources.load import load_input
    from .metrics import lip_width, mouth_opening

    clips = {}
    for group, path, piece in list_drivers(source):
        stem = Path(path).stem
        if names is not None and not any(n == f"{group}/{stem}" or n.startswith(f"{group}/{stem}#") for n in names):
            continue
        if progress:
            progress(f"driver {group}/{stem}")
        y = load_audio(path, 16000)
        if Path(path).suffix.lower() in AUDIO_EXTENSIONS:
            clips[f"{group}/{stem}"] = {"group": group, "audio": y, "time_s": np.arange(int(len(y) / 16000 * 25)) / 25,
                                        "opening": None, "width": None, "fps": 25.0}
            continue
        tr = load_input(path)
        kp = np.asarray(tr.keypoints, np.float64)
        face = kp[:, :, 2].max(axis=1) > 0
        o, w = np.where(face, mouth_opening(kp), np.nan), np.where(face, lip_width(kp), np.nan)
        t = np.asarray(tr.time_s, np.float64)
        cuts = [(0.0, np.inf)] if piece is None else [(a, a + piece) for a in np.arange(0, t[-1] - 2.0, piece)]
        for i, (a, b) in enumerate(cuts):
            m = (t >= a) & (t < b)
            name = f"{group}/{stem}" + (f"#{i}" if piece else "")
            if m.sum() < MIN_FRAMES or (names is not None and name not in names):
                continue
            ia, ib = int(a * 16000), int(min(b, t[m][-1] + 1.0 / tr.fps) * 16000)
            clips[name] = {"group": group, "audio": y[ia:ib].astype(np.float32), "time_s": t[m] - a,
                           "opening": o[m], "width": w[m], "fps": float(tr.fps)}
    if names is not None and (missing := sorted(set(names) - set(clips))):
        raise InputError(f"the split names clips the drivers do not have: {', '.join(missing[:5])}", source)
    return clips


def split_names(spec: str | None):
    """The clip names of ``FILE:SET`` (a JSON object of lists), or None for every clip."""
    if not spec:
        return None
    path, _, key = spec.rpartition(":")
    try:
        sets = json.loads(Path(path).read_text())
        return list(sets[key])
    except (OSError, ValueError, KeyError, TypeError):
        raise InputError(f"--split {spec!r}: expected FILE:SET with FILE a JSON object of lists of clip names "
                         f"and SET one of its keys", path or spec) from None


def centred_r(pairs) -> float:
    """Pearson r of (output, truth) pairs of series, each pair's mean removed first, pooled; NaN frames skipped."""
    from .metrics import pearson

    a, b = [], []
    for o, t in pairs:
        ok = np.isfinite(o) & np.isfinite(t)
        if ok.sum() >= 2:
            a.append(o[ok] - o[ok].mean())
            b.append(t[ok] - t[ok].mean())
    return pearson(np.concatenate(a), np.concatenate(b)) if a else float("nan")


def evaluate_voices(db, clips: dict, voices: str = "auto", smooth: float | None = None, progress=None) -> dict:
    """Drive ``db`` by every clip's sound; the report (see the module): ``{"groups": {...}, "clips": {...}}``."""
    from ..defaults import DEFAULT_AUDIO_SMOOTH
    from ..pipeline.core import Pipeline
    from ..pipeline.stages import Selector, SpeechFeatures, SpeechTarget
    from ..selection.decode import ViterbiDecoder
    from ..targets.speech.inputs import Audio
    from .metrics import mouth_opening

    lam = DEFAULT_AUDIO_SMOOTH if smooth is None else smooth
    pipe = Pipeline([SpeechFeatures(voices), SpeechTarget(), Selector(ViterbiDecoder(smooth=lam))]).fit(db)
    feats, target = pipe.stages[0], pipe.stages[1]
    kp = np.asarray(db.keypoints_, np.float64)
    own = mouth_opening(kp)
    rec = np.asarray(db.table_["recording"])
    usable = np.asarray(db.table_["usable"])
    speaker_std = float(np.median([np.nanstd(own[(rec == r) & usable]) for r in np.unique(rec[usable])]))
    res = {}
    for name, c in clips.items():
        if progress:
            progress(f"drive {name}")
        audio = Audio(np.asarray(c["audio"], np.float32), 16000, name, name,
                      frame_times=np.asarray(c["time_s"], np.float64))
        f = feats.transform(audio)
        tgt = target.transform(f)
        rows = pipe.stages[2].transform(tgt).result.rows
        o_sel = mouth_opening(kp[rows])
        tr = c["opening"]
        d = {"group": c["group"], "frames": len(rows), "seconds": len(c["audio"]) / 16000,
             "voice_ratio": f.voice_ratio, "model": tgt.report.get("voice_model", "own"),
             "amplitude_gain": tgt.report.get("amplitude_gain"), "std_vs_speaker": float(np.std(o_sel) / speaker_std),
             "_o_sel": o_sel, "_tr": tr}
        if tr is not None and np.isfinite(tr).sum() >= 2:
            ok = np.isfinite(tr)
            d.update(opening_r=centred_r([(o_sel, tr)]), std_ratio=float(np.std(o_sel[ok]) / np.std(tr[ok])))
        res[name] = d
    groups = {}
    for g in sorted({d["group"] for d in res.values()}) + ["pooled"]:
        ns = [n for n, d in res.items() if g == "pooled" or d["group"] == g]
        faced = [n for n in ns if "opening_r" in res[n]]
        groups[g] = {"clips": len(ns), "clips_with_face": len(faced),
                     "opening_r": centred_r([(res[n]["_o_sel"], res[n]["_tr"]) for n in faced]) if faced else None,
                     "std_ratio_median": float(np.median([res[n]["std_ratio"] for n in faced])) if faced else None,
                     "std_vs_speaker_median": float(np.median([res[n]["std_vs_speaker"] for n in ns])),
                     "other_voice_model": sum(res[n]["model"] != "own" for n in ns)}
    return {"voices": voices, "smooth": lam, "speaker_opening_std": speaker_std, "groups": groups,
            "clips": {n: {k: v for k, v in d.items() if not k.startswith("_")} for n, d in res.items()}}


def markdown_table(report: dict) -> str:
    """The per-group table, then the per-clip one."""
    md = ["| group | clips | opening r (within-clip, pooled) | std ratio (median) | amplitude vs speaker | "
          "other-voice model |", "|---|---|---|---|---|---|"]
    for g, v in report["groups"].items():
        cells = [table_cell(v["opening_r"]), table_cell(v["std_ratio_median"], ".2f"),
                 table_cell(v["std_vs_speaker_median"], ".2f"), str(v["other_voice_model"])]
        md.append("| " + " | ".join(["**pooled**" if g == "pooled" else g, str(v["clips"]), *cells]) + " |")
    md += ["", "| clip | s | voice ratio | model | gain | opening r | std ratio | amplitude vs speaker |",
           "|---|---|---|---|---|---|---|---|"]
    for n, d in report["clips"].items():
        cells = [f"{d['seconds']:.1f}", table_cell(d["voice_ratio"], ".2f"), str(d["model"]),
                 table_cell(d["amplitude_gain"], ".2f"), table_cell(d.get("opening_r")),
                 table_cell(d.get("std_ratio"), ".2f"), table_cell(d["std_vs_speaker"], ".2f")]
        md.append("| " + " | ".join([n, *cells]) + " |")
    return "\n".join(md)


def write_report(out, report: dict, force: bool = False, title: str = "", protect=()) -> dict:
    """``report.md`` and ``report.json`` in ``out`` (atomically)."""
    from ..io.storage import atomic_directory

    md = [f"# sketchsynth: other voices drive the database{': ' + title if title else ''}", "",
          markdown_table(report), "",
          "Opening: inner-lip gap 62-66 / inter-ocular distance, of the selected frames in their own pixels and of "
          "the driver's own tracked face; r with each clip's mean removed, pooled. Std ratio: std of the selected "
          "opening over the driver's. Amplitude vs speaker: std of the selected opening over the database "
          "recordings' median."]
    with atomic_directory(out, force=force, error=InputError, kind="evaluate", protect=protect) as tmp:
        (tmp / "report.md").write_text("\n".join(md) + "\n")
        (tmp / "report.json").write_text(json.dumps(report, indent=1, default=float))
    return {"markdown": os.path.join(out, "report.md"), "json": os.path.join(out, "report.json")}
