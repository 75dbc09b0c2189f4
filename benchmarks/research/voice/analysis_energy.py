"""How much of a driver's mouth opening a speaker-independent cue explains: pooled within-clip r between the
driver's own opening and (a) its log energy, (b) its 'voiced-band' energy (300-3000 Hz), over lags.

    PYTHONPATH=/work/proto:. python analysis_energy.py VAL
"""
import json, sys
import numpy as np
from voice_frontend import SpectralFrontEnd
from eval_drivers import load_clips, centred_r

which = sys.argv[1] if len(sys.argv) > 1 else "VAL"
split = json.load(open("split.json"))
clips = load_clips(split[which]) if which != "OWN" else load_clips(None, "own.npz")
f = SpectralFrontEnd(n_mels=80, cmvn_s=None)
lags = np.arange(-8, 9)
groups = sorted({n.split("/")[0] for n in clips})
for g in groups + ["ALL"]:
    res = []
    for lag in lags:
        pairs = []
        for n, c in clips.items():
            if g != "ALL" and not n.startswith(g + "/"):
                continue
            F, t = f.input_features(c["audio"])
            e = np.log(np.exp(F).sum(1))
            tt = c["time_s"] + lag * 0.04
            pairs.append((np.interp(tt, t, e), c["opening"]))
        res.append(centred_r(pairs))
    res = np.array(res)
    print(f"{g:10s} best lag {lags[res.argmax()]*40:+4d} ms r={res.max():.3f}  r@0={res[lags == 0][0]:.3f}  r@+80ms={res[lags == 2][0]:.3f}")
