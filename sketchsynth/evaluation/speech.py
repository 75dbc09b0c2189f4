"""Held-out evaluation of speech-driven synthesis (``sketchsynth evaluate --drive audio``).

For each fold (see :func:`sketchsynth.evaluation.evaluate.make_folds`; ``every:8:7`` is GRID
s1's fixed split) a database is built from the training recordings -- its
speech model fitted on them alone -- and every held-out recording's *sound*
drives a match. Its face is the truth. Rows of the report:

- ``regressor alone``: the predicted jaw and lips placed in the true frame;
- ``selected, per frame (λ=0)`` and ``selected, Viterbi λ=...``: the recorded
  database frames the decoder picks for the predicted mouth, measured in
  their own pixels (what ``frames.mp4`` shows);
- ``video-driven match``: the held-out face itself as the target (upper bound);
- ``mean mouth`` and ``random frames``: lower bounds.

Measures (per held-out recording and pooled over all held-out frames):

- opening r: Pearson r of the inner-lip opening (mean distance of the pairs
  62-66 over the inter-ocular distance 36-45, in the shown frame's
  own pixels) with the truth's; width r: the same for the lip corners 48-54;
- lag: the shift (ms) at the peak of the pooled cross-correlation of the
  openings (positive: the output comes late);
- LMD: mean distance over the mouth points 48-67 between output and truth,
  normalized units, and in the truth's pixels (the output's normalized points
  mapped through the true frame's normalization);
- jumps/s and mean run (frames) of the selected sequence.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field

import numpy as np

from ..errors import InputError
from .metrics import table_cell


DEFAULT_SMOOTH_GRID = (0.25, 0.5, 1.0, 2.0)


@dataclass
class SpeechReport:
    rows: list
    sentences: list
    folds: list
    settings: dict
    series: list = field(default_factory=list)
    timings: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {"settings": self.settings, "folds": self.folds, "rows": self.rows, "sentences": self.sentences,
                "timings_s": self.timings}


def _measures(shown_px, out_norm, truth_px, truth_norm, truth_mats, ok):
    """Per-frame opening/width of the shown frames and mouth LMD, for the frames in ``ok``."""
    from ..layout import MOUTH
    from ..database.normalize import Normalizer
    from .metrics import lip_width, mouth_opening

    o = mouth_opening(shown_px[ok])
    w = lip_width(shown_px[ok])
    lmd_n = np.linalg.norm(out_norm[ok][:, MOUTH] - truth_norm[ok][:, MOUTH], axis=-1).mean(-1)
    in_truth = Normalizer.inverse_transform(np.asarray(out_norm[ok], np.float32), truth_mats[ok])
    lmd_p = np.linalg.norm(in_truth[:, MOUTH] - truth_px[ok][:, MOUTH, :2], axis=-1).mean(-1)
    return o, w, lmd_n, lmd_p


def _audio_of(track):
    from ..database.sound import find_audio

    src = find_audio(track.kind, track.path, track.video)
    if src is None:
        raise InputError("held-out recording has no sound to drive the face with", track.path)
    return src


def evaluate_speech(tracks, holdout=None, smooth_grid=DEFAULT_SMOOTH_GRID, default_smooth: float | None = None,
                    model_params: dict | None = None, db_params: dict | None = None, metric: str = "sum",
                    seed: int = 0, progress=None, audio_weight: float | None = None) -> SpeechReport:
    """Build a database (and speech model) per fold, drive its held-out recordings by their sound, compare.

    Parameters
    ----------
    tracks : list of Track
        Recordings with sound (videos, or keypoints with an audio file beside them).
    holdout : list of str, optional
        See :func:`sketchsynth.evaluation.evaluate.make_folds` (``every:N:R``, ``@FILE``, ``each``, NAME[:FIRST-LAST]).
    smooth_grid : sequence of float
        λ values of the selected rows (0 is always included).
    default_smooth : float, optional
        The default λ of audio-driven matching (marked in the table).
    model_params : dict, optional
        :class:`~sketchsynth.targets.speech.model.SpeechModel` parameters (default: its defaults, as build-db fits).
    db_params : dict, optional
        :class:`~sketchsynth.database.frame_database.FrameDatabase` parameters.
    audio_weight : float, optional
        The speech target's audio term (default :data:`sketchsynth.defaults.DEFAULT_AUDIO_WEIGHT`).

    Returns
    -------
    SpeechReport
    """
    from ..database.frame_database import FrameDatabase
    from ..pipeline.build import build_database
    from ..selection.decode import ViterbiDecoder
    from ..selection.joins import path_joins, path_stats
    from .holdout import make_folds, split_tracks
    from ..io.audio import load_audio
    from ..layout import SPEECH_POINTS
    from ..selection.matching import match
    from ..targets.face import prepare_input
    from ..database.normalize import Normalizer
    from .metrics import lip_width, mouth_opening
    from ..targets.speech.model import SpeechModel
    from ..targets.speech.model_store import require_model, use_model
    from ..defaults import DEFAULT_AUDIO_SMOOTH
    from ..pipeline.core import Pipeline
    from ..pipeline.stages import SpeechFeatures, SpeechTarget
    from ..selection.select import select
    from ..targets.speech.inputs import Audio

    log = progress or (lambda s: None)
    lam0 = DEFAULT_AUDIO_SMOOTH if default_smooth is None else float(default_smooth)
    grid = sorted({0.0, lam0, *map(float, smooth_grid)})
    names = (["regressor alone"] + [("selected, per frame (λ=0)" if g == 0 else f"selected, Viterbi λ={g:g}") +
                                    (" (default)" if g == lam0 else "") for g in grid] +
             ["video-driven match (upper bound)", "mean mouth (lower bound)", "random frames (lower bound)"])
    acc = {n: {"o": [], "to": [], "w": [], "tw": [], "lmd_n": [], "lmd_p": [], "jumps": 0, "runs": 0, "n": 0}
           for n in names}
    sentences, fold_info, series = [], [], []
    rng = np.random.default_rng(seed)
    timings = {"build_db_s": 0.0, "fit_s": 0.0, "audio_s": 0.0, "select_s": 0.0}
    t_start = time.perf_counter()
    for fold in make_folds(tracks, holdout):
        db_tracks, heldout = split_tracks(tracks, fold)
        t0 = time.perf_counter()
        db = build_database(db_tracks, db=FrameDatabase(**(db_params or {})))
        timings["build_db_s"] += time.perf_counter() - t0
        if model_params:
            t0 = time.perf_counter()
            use_model(db, SpeechModel(**model_params).fit(db))
            timings["fit_s"] += time.perf_counter() - t0
        model = require_model(db)
        mean_mouth = np.asarray(db.normalized_[model.bank_rows_][:, SPEECH_POINTS], np.float64).mean(0)
        fold_info.append({"heldout": [h.name for h in heldout], "database_frames": int(db.n_frames_),
                          "train_frames": int(model.n_train_), "model": model.describe()})
        log(f"fold: database of {db.n_usable_} usable frames, {model.describe()}; {len(heldout)} held out")
        speech = Pipeline([SpeechFeatures(), SpeechTarget(audio_weight)]).fit(db)
        for h in heldout:
            t0 = time.perf_counter()
            src = _audio_of(h)
            y = load_audio(src, 16000)
            target = speech.run(Audio(y, 16000, src, h.name, np.asarray(h.time_s)), start="audio")
            pred, info = target.prediction, {"lle": target.report.get("lle"), "model": target.report.get("voice_model")}
            timings["audio_s"] += time.perf_counter() - t0
            truth_norm, truth_mats, ok, _, _ = prepare_input(db, h.keypoints)
            if ok.sum() < 2:
                raise InputError(f"held-out recording has {int(ok.sum())} usable frames; need 2", h.path)
            truth_px = np.asarray(h.keypoints, np.float64)
            outs = {}

            def placed(mouth):
                full = np.where(np.isfinite(truth_norm), truth_norm, 0).astype(np.float32)
                full[:, SPEECH_POINTS] = mouth
                px = np.zeros_like(truth_px)
                px[ok, :, :2] = Normalizer.inverse_transform(full[ok], truth_mats[ok])
                return full, px, None

            outs[names[0]] = placed(pred)
            t0 = time.perf_counter()
            for g, n in zip(grid, names[1:1 + len(grid)]):
                rows = select(db, target, ViterbiDecoder(smooth=g), metric=metric).result.rows
                outs[n] = (db.normalized_[rows], db.keypoints_[rows].astype(np.float64), rows)
            rows = match(db, h.keypoints, metric=metric, decoder=ViterbiDecoder()).rows
            rows = np.where(rows >= 0, rows, db.usable_rows_[0])
            outs[names[-3]] = (db.normalized_[rows], db.keypoints_[rows].astype(np.float64), rows)
            timings["select_s"] += time.perf_counter() - t0
            outs[names[-2]] = placed(np.broadcast_to(mean_mouth, pred.shape))
            rows = rng.choice(db.usable_rows_, len(h))
            outs[names[-1]] = (db.normalized_[rows], db.keypoints_[rows].astype(np.float64), rows)
            to, tw = mouth_opening(truth_px[ok]), lip_width(truth_px[ok])
            sent = {"name": h.name, "frames": int(ok.sum()), "lle": info.get("lle"), "voice_model": info.get("model")}
            seg = np.zeros(len(h), bool)
            seg[0] = True
            for n, (out_norm, shown, rows) in outs.items():
                o, w, lmd_n, lmd_p = _measures(shown, np.asarray(out_norm, np.float64), truth_px, truth_norm,
                                               truth_mats, ok)
                a = acc[n]
                a["o"].append(o), a["to"].append(to), a["w"].append(w), a["tw"].append(tw)
                a["lmd_n"].append(lmd_n), a["lmd_p"].append(lmd_p)
                a["n"] += int(ok.sum())
                entry = {"opening_r": _r(o, to), "width_r": _r(w, tw), "lmd_px": float(lmd_p.mean())}
                if rows is not None:
                    st = path_stats(path_joins(db, rows, seg)[1], np.ones(len(h), bool), seg, h.fps)
                    a["jumps"] += st["jumps"]
                    a["runs"] += st["runs"]
                    entry["jumps_per_s"] = st["jumps_per_s"]
                sent[n] = entry
            sentences.append(sent)
            if len(series) < 6:
                d = [n for n in names if n.endswith("(default)")][0]
                series.append({"name": h.name, "fps": float(h.fps), "truth": to.tolist(),
                               "predicted": acc[names[0]]["o"][-1].tolist(), "selected": acc[d]["o"][-1].tolist()})
        log(f"fold done: {len(sentences)} held-out recordings so far")
    fps = float(np.mean([t.fps for t in tracks]))
    rows = []
    for n in names:
        a = acc[n]
        from .metrics import best_lag

        lag, _ = best_lag(a["to"], a["o"], max_lag=10)
        per = [s[n]["opening_r"] for s in sentences]
        row = {"name": n, "frames": a["n"], "opening_r": _r(np.concatenate(a["o"]), np.concatenate(a["to"])),
               "opening_r_mean_per_recording": float(np.nanmean(per)) if np.isfinite(per).any() else float("nan"),
               "width_r": _r(np.concatenate(a["w"]), np.concatenate(a["tw"])),
               "lag_frames": int(lag), "lag_ms": 1000.0 * lag / fps,
               "lmd_norm": float(np.concatenate(a["lmd_n"]).mean()), "lmd_px": float(np.concatenate(a["lmd_p"]).mean()),
               "jumps_per_s": a["jumps"] * fps / a["n"] if a["runs"] else None,
               "mean_run_frames": a["n"] / a["runs"] if a["runs"] else None}
        if n == names[-2]:
            row["lag_frames"], row["lag_ms"] = None, None  # a constant has no lag
        rows.append(row)
    timings["total_s"] = time.perf_counter() - t_start
    from ..defaults import DEFAULT_AUDIO_WEIGHT

    settings = {"holdout": list(holdout or []), "smooth_grid": grid, "default_smooth": lam0, "fps": fps,
                "metric": metric, "model": model_params or "defaults", "seed": seed,
                "audio_weight": DEFAULT_AUDIO_WEIGHT if audio_weight is None else audio_weight}
    return SpeechReport(rows, sentences, fold_info, settings, series, {k: round(v, 2) for k, v in timings.items()})


def _r(a, b) -> float:
    from .metrics import pearson

    return pearson(np.asarray(a), np.asarray(b)) if len(a) > 2 else float("nan")


def markdown_table(report: SpeechReport) -> str:
    """The report's table as GitHub markdown."""
    lines = ["| rows | opening r | opening r, mean per recording | width r | lag (ms) | LMD px | LMD norm "
             "| jumps/s | mean run (frames) |", "|" + "|".join(["---"] * 9) + "|"]
    cols = (("opening_r", ".3f"), ("opening_r_mean_per_recording", ".3f"), ("width_r", ".3f"), ("lag_ms", "+.0f"),
            ("lmd_px", ".2f"), ("lmd_norm", ".4f"), ("jumps_per_s", ".2f"), ("mean_run_frames", ".1f"))
    for r in report.rows:
        lines.append("| " + " | ".join([r["name"], *(table_cell(r[k], f) for k, f in cols)]) + " |")
    return "\n".join(lines)


def save_opening_plot(report: SpeechReport, path) -> str:
    """True, predicted and selected mouth opening over time, the first held-out recordings one after another."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.figure import Figure

    fig = Figure(figsize=(10, 3.6), dpi=130)
    ax = fig.add_subplot(1, 1, 1)
    t0 = 0.0
    for i, s in enumerate(report.series):
        t = t0 + np.arange(len(s["truth"])) / s["fps"]
        for key, style, label in (("truth", "k-", "truth (held-out face)"), ("predicted", "C1--", "predicted"),
                                  ("selected", "C0-", "selected frames (default λ)")):
            ax.plot(t, s[key], style, lw=1.2, label=label if i == 0 else None)
        ax.axvline(t0, color="0.8", lw=0.8)
        ax.text(t0 + 0.05, 0.98, s["name"], transform=ax.get_xaxis_transform(), fontsize=7, va="top")
        t0 = t[-1] + 1 / s["fps"]
    ax.set_xlabel("time (s), held-out recordings one after another")
    ax.set_ylabel("inner-lip opening / inter-ocular")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="lower center", ncol=3, framealpha=0.9)
    fig.tight_layout()
    fig.savefig(os.fspath(path))
    return os.fspath(path)


def write_report(out, report: SpeechReport, force: bool = False, title: str = "", protect=()) -> dict:
    """Write ``report.md``, ``report.json`` and ``opening.png`` into ``out`` (atomically; ``force`` and
    ``protect`` as in :func:`sketchsynth.io.storage.check_target`)."""
    from ..io.storage import atomic_directory

    md = [f"# sketchsynth speech-driven evaluation{': ' + title if title else ''}", ""]
    for f in report.folds:
        md.append(f"- {len(f['heldout'])} recordings held out; database {f['database_frames']} frames, model: "
                  f"{f['model']}")
    md += ["", markdown_table(report), "",
           "Opening: inner-lip gap 62-66 / inter-ocular distance (36-45), in the shown frame's "
           "own pixels; width: lip corners 48-54 / inter-ocular. r pooled over all held-out frames; lag at the peak "
           "of the pooled cross-correlation (positive: output late). LMD: mouth points 48-67, output vs truth.", "",
           "## Per recording (default λ)", "", "| recording | frames | opening r | width r | jumps/s | voice distance "
           "| LLE blend |", "|---|---|---|---|---|---|---|"]
    d = [r["name"] for r in report.rows if r["name"].endswith("(default)")][0]
    for s in report.sentences:
        e = s[d]
        lle = s.get("lle") or {}
        cells = [table_cell(e["opening_r"]), table_cell(e["width_r"]), table_cell(e.get("jumps_per_s"), ".2f"),
                 table_cell(lle.get("voice_distance_ratio"), ".2f"), table_cell(lle.get("blend"), ".2f")]
        md.append("| " + " | ".join([s["name"], str(s["frames"]), *cells]) + " |")
    with atomic_directory(out, force=force, error=InputError, kind="evaluate", protect=protect) as tmp:
        (tmp / "report.md").write_text("\n".join(md) + "\n")
        (tmp / "report.json").write_text(json.dumps(report.to_dict(), indent=1, default=float))
        save_opening_plot(report, tmp / "opening.png")
    return {"markdown": os.path.join(out, "report.md"), "json": os.path.join(out, "report.json"),
            "plot": os.path.join(out, "opening.png")}
