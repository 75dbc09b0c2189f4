"""Audio -> mouth on GRID s1: regressors, frame selection and Viterbi on held-out sentences.

Data: face tracks of the 800 GRID s1 sentences (an npz of ``<sentence>/keypoints`` (75, 70, 3) and
``<sentence>/time_s``, written with sketchsynth's tracker) and the sentences' audio (the videos).
The fixed split: sentences sorted by name, sentence i is TEST when i % 8 == 7 (100), else TRAIN
(700); ``--eval val`` instead fits on 600 TRAIN sentences and evaluates on the other 100 (TRAIN
index j % 7 == 6), for choosing settings without looking at TEST.

Rows report, for the regressor's own mouth and for real database (fit-set) frames selected to
match it -- per frame (top-1) and by a Viterbi decoder like :mod:`sketchsynth.selection.decode`'s --
the inner-lip opening r and lip width r (pooled over frames; also the mean per-sentence r), the
lag at the cross-correlation peak, and jumps/s.

    python benchmarks/bench_speech_model.py --tracks /work/scratch/tracks_grid_s1.npz --eval val
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from sketchsynth.layout import DEFAULT_ANCHORS, GROUPS, SPEECH_POINTS  # noqa: E402
from sketchsynth.database.normalize import Normalizer  # noqa: E402
from sketchsynth.database.speech_features import LogMel
from sketchsynth.targets.speech.features import frame_context  # noqa: E402
from sketchsynth.evaluation.metrics import best_lag, lip_width, mouth_opening, pearson  # noqa: E402

SHARED = os.environ.get("SKETCHSYNTH_SHARED_DATA",
                        os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "shared", "data"))
FPS = 25.0
W_POINTS = np.where(np.isin(SPEECH_POINTS, GROUPS["lips"]), 10.0, 1.0).astype(np.float32)  # lips 10, jaw 1


# ---------------------------------------------------------------------------------------------- data
class Data:
    """Tracks, normalized points, truth measures and mel spectrograms of every sentence."""

    def __init__(self, tracks_path, mel_cache=None, video_dir=None, names=None):
        z = np.load(tracks_path)
        all_names = sorted({k.split("/")[0] for k in z.files})
        self.names = all_names if names is None else sorted(names)
        self.kp = {n: z[n + "/keypoints"].astype(np.float32) for n in self.names}
        self.time_s = {n: z[n + "/time_s"].astype(np.float64) for n in self.names}
        self.video_dir = video_dir or os.path.join(SHARED, "grid_s1", "video")
        self.mel, self.mel_times, self.timings = self._mel(mel_cache)

    def _mel(self, cache):
        from sketchsynth.io.audio import load_audio

        lm = LogMel()
        if cache and os.path.exists(cache):
            with np.load(cache) as z:
                mel = {n: z[n] for n in self.names}
            timings = {}
        else:
            mel, ta, tm, dur = {}, 0.0, 0.0, 0.0
            for n in self.names:
                t0 = time.process_time()
                x = load_audio(os.path.join(self.video_dir, n + ".mp4"))
                t1 = time.process_time()
                mel[n] = lm.transform(x)
                ta, tm, dur = ta + t1 - t0, tm + time.process_time() - t1, dur + len(x) / lm.sr
            timings = {"decode_s_per_60s": 60 * ta / dur, "logmel_s_per_60s": 60 * tm / dur}
            if cache:
                np.savez(cache, **mel)
        hop = lm.hop_length / lm.sr
        return mel, {n: np.arange(len(m)) * hop for n, m in mel.items()}, timings

    def split(self, mode="test"):
        """(fit names, eval names) of the fixed split; mode "val" splits TRAIN itself."""
        train = [n for i, n in enumerate(self.names) if i % 8 != 7]
        test = [n for i, n in enumerate(self.names) if i % 8 == 7]
        if mode == "test":
            return train, test
        return [n for j, n in enumerate(train) if j % 7 != 6], [n for j, n in enumerate(train) if j % 7 == 6]

    def prepare(self, fit_names):
        """Normalizer fitted on the fit sentences' usable frames (etalon: largest anchor spread)."""
        kp = np.concatenate([self.kp[n] for n in fit_names])
        usable = self.usable(kp)
        self.normalizer = Normalizer().fit(kp, usable)
        self.norm, self.mats, self.ok = {}, {}, {}
        for n in self.names:
            nrm, m, ok = self.normalizer.transform(self.kp[n])
            self.norm[n], self.mats[n], self.ok[n] = nrm, m, ok & self.usable(self.kp[n])
        return self

    @staticmethod
    def usable(kp):
        return (kp[:, list(DEFAULT_ANCHORS), 2] >= 0.2).all(axis=1) & (kp[:, :, 2] > 0).all(axis=1)

    def features(self, names, past_s, future_s, step, cmvn=False, deltas=False):
        out = []
        for n in names:
            mel = self.mel[n]
            if cmvn:  # per-utterance mean removal in the log domain: a per-band gain cancels
                mel = mel - mel.mean(axis=0, keepdims=True)
            if deltas:
                d = np.gradient(mel, axis=0)
                mel = np.concatenate([mel, d], axis=1)
            out.append(frame_context(mel, self.mel_times[n], self.time_s[n], past_s, future_s, step))
        return out


# ---------------------------------------------------------------------------------------------- eval
def regressor_measures(data, names, preds):
    """Opening/width of predicted points drawn in each eval frame's own pixels."""
    from sketchsynth.database.normalize import Normalizer as N

    ot, op, wt, wp = [], [], [], []
    for n, p in zip(names, preds):
        ok = data.ok[n]
        kp = data.kp[n][ok, :, :2].astype(np.float64)
        full = data.norm[n][ok].astype(np.float64).copy()
        full[:, SPEECH_POINTS] = p[ok]
        pix = N.inverse_transform(full, data.mats[n][ok])
        pix[:, ~np.isin(np.arange(70), SPEECH_POINTS)] = kp[:, ~np.isin(np.arange(70), SPEECH_POINTS)]
        ot.append(mouth_opening(kp)), op.append(mouth_opening(pix))
        wt.append(lip_width(kp)), wp.append(lip_width(pix))
    return summarize(ot, op, wt, wp)


def summarize(ot, op, wt, wp, jumps=None):
    lag, _ = best_lag(ot, op)
    per = [pearson(a, b) for a, b in zip(ot, op) if len(a) > 2]
    out = {"open_r": pearson(np.concatenate(ot), np.concatenate(op)), "open_r_sent": float(np.nanmean(per)),
           "width_r": pearson(np.concatenate(wt), np.concatenate(wp)), "lag_ms": 1000 * lag / FPS}
    if jumps is not None:
        out["jumps_s"] = float(sum(j.sum() for j in jumps) * FPS / sum(len(j) for j in jumps))
    return out


class Selector:
    """A database of fit-set frames searched by weighted mouth+jaw distance, per frame or by Viterbi."""

    def __init__(self, data, fit_names, audio_feats=None, weights=None):
        import faiss

        rows_kp, rows_y, succ, af = [], [], [], []
        base = 0
        for i, n in enumerate(fit_names):
            ok = data.ok[n]
            idx = np.flatnonzero(ok)
            rows_kp.append(data.kp[n][idx])
            rows_y.append(data.norm[n][idx][:, SPEECH_POINTS])
            nxt = np.full(len(idx), -1, np.int64)
            cons = np.diff(idx) == 1
            nxt[:-1][cons] = base + np.arange(1, len(idx))[cons]
            succ.append(nxt)
            if audio_feats is not None:
                af.append(audio_feats[i][idx])
            base += len(idx)
        self.kp = np.concatenate(rows_kp)
        self.y = np.concatenate(rows_y).astype(np.float32)
        self.succ = np.concatenate(succ)
        self.af = np.concatenate(af).astype(np.float32) if af else None
        self.open = mouth_opening(self.kp)
        self.width = lip_width(self.kp)
        w = W_POINTS if weights is None else np.asarray(weights, np.float32)
        self.sw = np.sqrt(np.repeat(w, 2)).astype(np.float32)
        self.vec = np.ascontiguousarray(self.y.reshape(len(self.y), -1) * self.sw)
        self.index = faiss.IndexFlatL2(self.vec.shape[1])
        self.index.add(self.vec)

    def target(self, pred, rows):
        """Weighted squared mouth+jaw distance of predictions (n, 37, 2) to rows (n, m)."""
        q = pred.reshape(len(pred), -1) * self.sw
        return ((self.vec[rows] - q[:, None, :]) ** 2).sum(-1)

    def candidates(self, pred, k=32, audio=None, beta=0.0, prefilter=256):
        q = np.ascontiguousarray(pred.reshape(len(pred), -1) * self.sw, dtype=np.float32)
        if beta <= 0 or audio is None:
            d, r = self.index.search(q, k)
            return r, d
        d, r = self.index.search(q, prefilter)
        da = ((self.af[r] - audio[:, None, :]) ** 2).sum(-1)
        if getattr(self, "aud_scale", None) is None:  # audio distances in units of mouth distances, set once
            self.aud_scale = float(np.median(d[:, 0]) / max(np.median(da[:, 0]), 1e-9))
        c = d + beta * self.aud_scale * da
        o = np.argsort(c, axis=1)[:, :k]
        return np.take_along_axis(r, o, 1), np.take_along_axis(c, o, 1)

    def viterbi(self, pred, smooth=0.5, k=32, jump_cost=1.5, audio=None, beta=0.0):
        """Rows chosen for one utterance's predictions (T, 37, 2); also whether each is a jump."""
        top, cost = self.candidates(pred, k, audio, beta)
        if smooth == 0:
            return top[:, 0], np.r_[False, self.succ[top[:-1, 0]] != top[1:, 0]]
        jc = jump_cost * float(np.median(cost[:, 0]))
        states, acc, back = [top[0]], [cost[0].astype(np.float64)], []
        for t in range(1, len(pred)):
            prev = states[-1]
            best_prev = prev[np.argsort(acc[-1])[:k]]
            s = self.succ[best_prev]
            cand = np.unique(np.r_[top[t], s[s >= 0]])
            tc = self.target(pred[t:t + 1], cand[None])[0].astype(np.float64)
            if beta > 0 and audio is not None:
                da = ((self.af[cand] - audio[t]) ** 2).sum(-1)
                tc = tc + beta * self.aud_scale * da
            sp = np.where(self.succ[prev] >= 0, self.succ[prev], prev)            # where the recording goes
            dj = ((self.vec[sp][:, None, :] - self.vec[cand][None, :, :]) ** 2).sum(-1) + jc
            dj[self.succ[prev][:, None] == cand[None, :]] = 0.0
            tot = acc[-1][:, None] + smooth * dj
            b = np.argmin(tot, axis=0)
            back.append(b)
            acc.append(tot[b, np.arange(len(cand))] + tc)
            states.append(cand)
        j = int(np.argmin(acc[-1]))
        path = [states[-1][j]]
        for t in range(len(pred) - 1, 0, -1):
            j = back[t - 1][j]
            path.append(states[t - 1][j])
        rows = np.array(path[::-1])
        return rows, np.r_[False, self.succ[rows[:-1]] != rows[1:]]

    def measures(self, data, names, chosen, jumps=None):
        ot, op, wt, wp = [], [], [], []
        for n, rows in zip(names, chosen):
            kp = data.kp[n][data.ok[n]]
            ot.append(mouth_opening(kp)), wt.append(lip_width(kp))
            op.append(self.open[rows]), wp.append(self.width[rows])
        return summarize(ot, op, wt, wp, jumps)


def evaluate(data, sel, names, preds, feats=None, smooth=0.5, beta=0.0, jump_cost=1.5):
    """Rows of the table for one set of predictions: regressor, per-frame selection, Viterbi."""
    res = {"regressor": regressor_measures(data, names, preds)}
    okp = [p[data.ok[n]] for n, p in zip(names, preds)]
    okf = [None] * len(names) if feats is None else [f[data.ok[n]] for n, f in zip(names, feats)]
    per, vit, vj = [], [], []
    for p, f in zip(okp, okf):
        top, _ = sel.candidates(p, 1, f, beta)
        per.append(top[:, 0])
        r, j = sel.viterbi(p, smooth=smooth, audio=f, beta=beta, jump_cost=jump_cost)
        vit.append(r), vj.append(j)
    pj = [np.r_[False, sel.succ[r[:-1]] != r[1:]] for r in per]
    res["per_frame"] = sel.measures(data, names, per, pj)
    res["viterbi"] = sel.measures(data, names, vit, vj)
    return res


def fmt(res):
    parts = []
    for k, v in res.items():
        s = f"r {v['open_r']:.3f} ({v['open_r_sent']:.3f}) w {v['width_r']:.3f} lag {v['lag_ms']:+.0f}"
        if "jumps_s" in v:
            s += f" j/s {v['jumps_s']:.1f}"
        parts.append(f"{k}: {s}")
    return " | ".join(parts)


def main(argv=None):
    from sketchsynth.targets.speech.regress import KNNMouth, RidgeMouth

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--tracks", required=True)
    ap.add_argument("--mel-cache", default=None)
    ap.add_argument("--eval", choices=("val", "test"), default="val")
    ap.add_argument("--past", type=float, default=0.32)
    ap.add_argument("--future", type=float, default=0.48)
    ap.add_argument("--step", type=float, default=0.04)
    ap.add_argument("--cmvn", action="store_true")
    ap.add_argument("--model", default="mlp,ridge,knn",
                    help="comma-separated regressors whose predictions are averaged: ridge, knn, mlp (needs torch)")
    ap.add_argument("--alpha", type=float, default=300.0)
    ap.add_argument("--components", type=int, default=20)
    ap.add_argument("--k", type=int, default=10)
    ap.add_argument("--mlp-epochs", type=int, default=12)
    ap.add_argument("--smooth", type=float, default=1.0)
    ap.add_argument("--jump-cost", type=float, default=3.0)
    ap.add_argument("--corner-weight", type=float, default=10.0, help="selection weight of lip corners 48, 54")
    ap.add_argument("--beta", type=float, default=0.0, help="weight of the audio-feature term in the target")
    ap.add_argument("--json", default=None)
    a = ap.parse_args(argv)
    data = Data(a.tracks, a.mel_cache)
    fit, ev = data.split(a.eval)
    data.prepare(fit)
    t0 = time.process_time()
    Xf = data.features(fit, a.past, a.future, a.step, a.cmvn)
    Xe = data.features(ev, a.past, a.future, a.step, a.cmvn)
    t_feat = time.process_time() - t0
    X = np.concatenate([x[data.ok[n]] for n, x in zip(fit, Xf)])
    Y = np.concatenate([data.norm[n][data.ok[n]][:, SPEECH_POINTS] for n in fit])
    t0 = time.process_time()
    models, kinds = [], a.model.split(",")
    if "ridge" in kinds:
        models.append(RidgeMouth(a.alpha, a.components).fit(X, Y))
    if "knn" in kinds:
        models.append(KNNMouth(a.k, 96).fit(X, Y))
    if "mlp" in kinds:
        from sketchsynth.targets.speech.neural import MLPMouth

        models.append(MLPMouth(hidden=(512, 512), n_components=256, dropout=0.2, epochs=a.mlp_epochs,
                               batch_size=512, max_seconds=150).fit(X, Y))
    if not models:
        ap.error(f"--model: no known regressor in {a.model!r}")
    t_fit = time.process_time() - t0
    t0 = time.process_time()
    preds = [np.mean([m.predict(x) for m in models], axis=0) for x in Xe]
    t_pred = time.process_time() - t0
    audio_f = audio_e = None
    if a.beta > 0:  # the audio term compares features in a 96-D PCA space of the standardized windows
        km = next((m for m in models if isinstance(m, KNNMouth)), None) or KNNMouth(10, 96).fit(X, Y)
        audio_f, audio_e = ([((x - km.x_mean_) / km.x_scale_) @ km.proj_ for x in xs] for xs in (Xf, Xe))
    w = W_POINTS.copy()
    w[np.isin(SPEECH_POINTS, [48, 54])] = a.corner_weight
    sel = Selector(data, fit, audio_f, weights=w)
    res = evaluate(data, sel, ev, preds, audio_e, a.smooth, a.beta, a.jump_cost)
    dur = sum(len(data.time_s[n]) for n in ev) / FPS
    dur_all = sum(len(data.time_s[n]) for n in fit + ev) / FPS
    res["timings"] = {"fit_cpu_s": t_fit, "context_s_per_60s": 60 * t_feat / dur_all, "predict_s_per_60s":
                      60 * t_pred / dur, **data.timings}
    print(vars(a))
    print(fmt({k: v for k, v in res.items() if k != "timings"}))
    print(res["timings"])
    if a.json:
        with open(a.json, "w") as fh:
            json.dump({"args": vars(a), "results": res}, fh, indent=1)


if __name__ == "__main__":
    main()
