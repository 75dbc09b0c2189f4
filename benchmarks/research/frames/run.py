"""Run ``sketchsynth match`` (the frozen /work/proto CLI) with this prototype's frames modes patched in.

    PYTHONPATH=/work/proto:/work/research/frames python run.py [--pose-weight W] [--no-check] [--proto]
        -- INPUT --db DB --out OUT [any sketchsynth match option]

Patches (nothing under /work/proto is changed; the product version needs only import-path changes):

- ``ViterbiDecoder.decode``: before decoding, the background take is chosen where the needed mouths exist
  in a compatible pose (:func:`pose.choose_background`) and the pose term (:func:`pose.pose_term`) is added
  to the candidates' costs (re-ranked) and handed to the decoder as its feature term, so recorded
  successors in the lattice carry it too (combined with a speech feature term when there is one);
- ``MatchVideoWriter._frames_images``: ``composite`` uses :mod:`mesh_composite` on that background after the
  self-check (:func:`mesh_composite.checked_rows`); ``full`` uses :mod:`full_morph`.

The self-check's counts go to ``videos.json`` and ``summary.json`` (``frames_check``).
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

STATE: dict = {}


def install(pose_weight: float, check: bool = True, full_mode: str = "morph", follow: float = 0.0,
            max_follow: float = 0.06, crossfade: int = 2, l_gain=(1.0, 1.0)):
    import sketchsynth.decode as dec
    import sketchsynth.video_out as vo

    import pose as P

    orig_decode = dec.ViterbiDecoder.decode

    def decode(self, db, result, frames=None, features=None):
        from sketchsynth.feature_term import rerank_with

        space = STATE.get("space")
        if space is None or STATE.get("db") is not db:
            space = P.PoseSpace().fit(db)
            STATE.update(space=space, db=db)
        usable = np.asarray(result.usable, bool) & (result.candidates[:, 0] >= 0)
        u = np.flatnonzero(usable)
        K = int(self.candidates)
        cand, cost = result.candidates, result.candidate_costs
        mats = np.asarray(result.matrices, np.float64)
        mats = mats if np.isfinite(mats).all(axis=(1, 2)).sum() >= 2 else None
        STATE["target_norm"] = np.asarray(result.normalized, np.float64)
        plan = P.choose_background(db, space, cand[:, :K], cost[:, :K], usable, mats, pose_weight=pose_weight)
        STATE["plan"] = plan
        if plan is None or pose_weight <= 0 or not STATE.get("composite", True):
            STATE["alternatives"] = cand
            return orig_decode(self, db, result, frames, features)
        cost_unit = float(np.median(cost[u, 0]))
        term = P.pose_term(space, plan["pose"], pose_weight * cost_unit)
        c2, k2 = cand.copy(), cost.copy()
        c2[u], k2[u] = rerank_with(term, cand[u], cost[u], u)
        result.candidates, result.candidate_costs = c2, k2
        STATE["alternatives"] = c2
        return orig_decode(self, db, result, frames, P.combine_terms(features, term))

    dec.ViterbiDecoder.decode = decode
    orig_frames = vo.MatchVideoWriter._frames_images

    def frames_images(self, rows_out, mats, size, matched, index):
        if self.frames_mode == "full" and full_mode != "proto":
            import full_morph

            return full_morph.frames_images(self, rows_out, size)
        if self.frames_mode != "composite" or self.background != "auto":
            return orig_frames(self, rows_out, mats, size, matched, index)
        import mesh_composite as MC
        from sketchsynth.frame_joins import join_continuations

        db = self.db
        plan = STATE.get("plan")
        n = len(rows_out)
        bg_rows = plan["rows"]
        if len(bg_rows) != n:  # output timeline differs from the input's: replay the take's ping-pong
            rec_rows = np.flatnonzero(db.table_["recording"] == plan["recording"])
            bg_rows = rec_rows[P.pingpong(len(rec_rows), n, plan["start"])]
        comp = MC.MeshCompositor(follow=follow, max_follow=max_follow, l_gain_clip=l_gain).fit(db)
        bg_kp = np.asarray(db.keypoints_, np.float64)[bg_rows]
        alts = STATE.get("alternatives")
        alts = None if alts is None or len(alts) != n else alts
        info: dict = {}
        if check:
            tn0 = STATE.get("target_norm")
            tn0 = tn0 if tn0 is not None and len(tn0) == n else None
            rows_out, rep = MC.checked_rows(comp, db, rows_out, bg_kp, alts, target_norm=tn0)
            info["frames_check"] = rep
            STATE["frames_check"] = rep
        prev, _ = join_continuations(db, rows_out, crossfade)
        frames, _ = vo.fetch_db_frames(db, np.concatenate([rows_out, prev, bg_rows]))
        bsize = tuple(int(v) for v in vo.db_frame_sizes(db)[bg_rows[0]])
        bg = {"images": [frames[int(r)] for r in bg_rows], "matrices": db.transforms_[bg_rows],
              "keypoints": bg_kp, "size": bsize}
        info["background"] = {"take": plan["recording"], "first_frame": int(db.table_["frame"][bg_rows[0]]),
                              "fit": plan["cost"], "pose_weight": pose_weight}
        info["output_size"] = list(bsize)
        info["db_rows"] = rows_out.tolist()
        tn = STATE.get("target_norm")
        tn = tn if tn is not None and len(tn) == n else None
        info["follow"] = follow
        return MC.composite_images(db, rows_out, frames, bg, report=info, compositor=comp, target_norm=tn,
                                   crossfade=crossfade), info

    vo.MatchVideoWriter._frames_images = frames_images
    time_writes()


def time_writes():
    """Record the wall time of every write_video call (frames generated + encoded) in STATE["write_s"]."""
    import time

    import sketchsynth.io.video as iv

    orig = iv.write_video

    def write_video(path, frames, fps, *args, **kw):
        t0 = time.perf_counter()
        if Path(path).name == "frames.mp4" and STATE.get("crf") is not None:
            kw["crf"] = STATE["crf"]
        out = orig(path, frames, fps, *args, **kw)
        STATE.setdefault("write_s", {})[Path(path).name] = {"s": time.perf_counter() - t0, "frames": out["frames"],
                                                             "fps": fps}
        return out

    iv.write_video = write_video
    import sketchsynth.video_out as vo

    orig_fi = vo.MatchVideoWriter._frames_images

    def frames_images(self, *a, **k):
        t0 = time.perf_counter()
        out = orig_fi(self, *a, **k)
        STATE["prepare_s"] = time.perf_counter() - t0
        return out

    vo.MatchVideoWriter._frames_images = frames_images


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pose-weight", type=float, default=None)
    ap.add_argument("--no-check", action="store_true")
    ap.add_argument("--follow", type=float, default=1.0)
    ap.add_argument("--edge-weight", type=float, default=None)
    ap.add_argument("--crossfade", type=int, default=2)
    ap.add_argument("--l-gain", type=float, nargs=2, default=(1.0, 1.0))
    ap.add_argument("--crf", type=int, default=18, help="frames.mp4's H.264 crf (the frozen writer's: 23)")
    ap.add_argument("--edge-q", type=float, default=None, help="low quantile (%%); high = 100 - it")
    ap.add_argument("--max-follow", type=float, default=0.06)
    ap.add_argument("--proto", action="store_true", help="no patches: the frozen code as is")
    ap.add_argument("--full", default="morph", choices=["morph", "cut", "proto"])
    ap.add_argument("rest", nargs=argparse.REMAINDER)
    a = ap.parse_args()
    rest = a.rest[1:] if a.rest and a.rest[0] == "--" else a.rest
    if not a.proto:
        import pose as P

        if a.edge_weight is not None:
            P.EDGE_WEIGHT = a.edge_weight
        if a.edge_q is not None:
            P.EDGE_QUANTILES = (a.edge_q, 100 - a.edge_q)

        import full_morph

        full_morph.JOIN_STYLE = a.full
        pw = P.DEFAULT_POSE_WEIGHT if a.pose_weight is None else a.pose_weight
        if "--frames" in rest and rest[rest.index("--frames") + 1] != "composite":
            pw = 0.0  # no background: the pose term has nothing to match
        install(pw, not a.no_check, a.full, a.follow, a.max_follow, a.crossfade, a.l_gain)
    STATE["crf"] = a.crf
    if a.proto:
        time_writes()
    from sketchsynth.cli import main as cli_main

    out = rest[rest.index("--out") + 1] if "--out" in rest else None
    try:
        cli_main(["match", *rest])
    finally:
        if out and (Path(out) / "summary.json").exists():
            p = Path(out) / "summary.json"
            s = json.loads(p.read_text())
            if "frames_check" in STATE:
                s["frames_check"] = STATE["frames_check"]
            s["write_s"] = STATE.get("write_s", {})
            s["frames_prepare_s"] = STATE.get("prepare_s")
            p.write_text(json.dumps(s, indent=1))
        for name, v in STATE.get("write_s", {}).items():
            extra = STATE.get("prepare_s", 0.0) if name == "frames.mp4" else 0.0
            print(f"{name}: {v['frames']} frames written in {v['s'] + extra:.2f} s (fetching frames "
                  f"{extra:.2f} s) = {v['frames'] / v['fps'] / (v['s'] + extra):.2f}x real time")


if __name__ == "__main__":
    main()
