"""What a held-out sequence is measured by: landmark distance, target cost, jumps and runs, pooled over sequences."""

from __future__ import annotations

import numpy as np

from ..layout import MOUTH


# ---------------------------------------------------------------------------- metrics
def _weighted_point_dist(a, b, w):
    d = np.linalg.norm(a - b, axis=-1)
    total = w.sum()
    return (d * w).sum(-1) / total if total > 0 else np.zeros(d.shape[:-1])


def sequence_sums(db, rows, target_cost, out_norm, out_px, truth_kp, truth_norm, segment_start) -> dict:
    """Per-sequence sums behind the metrics (pooled over folds before dividing).

    Parameters
    ----------
    db : FrameDatabase
    rows : np.ndarray, shape (T,), int
        Chosen database rows (-1: none).
    target_cost : np.ndarray, shape (T,)
        Their target costs.
    out_norm : np.ndarray, shape (T, 70, 2)
        Output in normalized space (seam-blended or not).
    out_px : np.ndarray, shape (T, 70, 3)
        Output in input pixels.
    truth_kp : np.ndarray, shape (T, 70, 3)
        The held-out input as recorded (unfiltered).
    truth_norm : np.ndarray, shape (T, 70, 2)
        The truth in normalized space.
    segment_start : np.ndarray, shape (T,), bool

    Returns
    -------
    dict of float sums and counts.
    """
    from ..selection.joins import path_joins, path_stats

    ok = (rows >= 0) & np.isfinite(truth_norm).all(axis=(1, 2))
    w = db.weights_.astype(np.float64)
    tn = truth_norm.astype(np.float64)
    on = out_norm.astype(np.float64)
    s = {"n": int(ok.sum())}
    s["target_cost"] = float(np.sum(target_cost[ok]))
    s["lmd_norm"] = float(np.linalg.norm(on[ok][:, MOUTH] - tn[ok][:, MOUTH], axis=-1).mean(-1).sum())
    s["lmd_px"] = float(np.linalg.norm(out_px[ok][:, MOUTH, :2].astype(np.float64)
                                       - truth_kp[ok][:, MOUTH, :2], axis=-1).mean(-1).sum())
    s["face_dist"] = float(_weighted_point_dist(on[ok], tn[ok], w).sum())
    # consecutive pairs and triples inside one usable stretch
    pair = ok[1:] & ok[:-1] & ~segment_start[1:]
    vo, vt = on[1:] - on[:-1], tn[1:] - tn[:-1]
    s["n_pairs"] = int(pair.sum())
    s["velocity_error"] = float(_weighted_point_dist(vo[pair], vt[pair], w).sum())
    tri = pair[1:] & pair[:-1]
    op = out_px[..., :2].astype(np.float64)[:, MOUTH]
    tp = truth_kp[..., :2].astype(np.float64)[:, MOUTH]
    s["n_triples"] = int(tri.sum())
    s["jitter_px"] = float(np.linalg.norm(op[2:] - 2 * op[1:-1] + op[:-2], axis=-1).mean(-1)[tri].sum())
    s["truth_jitter_px"] = float(np.linalg.norm(tp[2:] - 2 * tp[1:-1] + tp[:-2], axis=-1).mean(-1)[tri].sum())
    _, is_jump = path_joins(db, rows, segment_start)
    st = path_stats(is_jump, ok, segment_start & ok, 1.0)
    s["jumps"], s["runs"] = st["jumps"], st["runs"]
    return s


def pool(sums: list[dict], fps: float) -> dict:
    """Metrics from per-sequence sums (frame-weighted over folds)."""
    tot = {k: sum(s[k] for s in sums) for k in sums[0]}
    n, n2, n3 = tot["n"], tot["n_pairs"], tot["n_triples"]
    div = lambda a, b: float(a / b) if b else float("nan")  # noqa: E731
    return {"frames": int(n), "jumps_per_s": div(tot["jumps"] * fps, n), "mean_run_frames": div(n, tot["runs"]),
            "target_cost": div(tot["target_cost"], n), "lmd_norm": div(tot["lmd_norm"], n),
            "lmd_px": div(tot["lmd_px"], n), "face_dist": div(tot["face_dist"], n),
            "velocity_error": div(tot["velocity_error"], n2), "jitter_px": div(tot["jitter_px"], n3),
            "truth_jitter_px": div(tot["truth_jitter_px"], n3)}
