"""Per-group lag of a run's output against the drivers' own mouths (pooled within-clip r at shifts).

    python analysis_lag.py results/<tag>_<SET>_series.npz [_o_sel|_o_reg]
Positive lag: the output comes late (output[t + lag] follows truth[t]).
"""
import sys
import numpy as np
from eval_drivers import centred_r

z = np.load(sys.argv[1])
key = sys.argv[2] if len(sys.argv) > 2 else "_o_sel"
names = sorted({k.split("|")[0] for k in z.files})
groups = sorted({n.split("/")[0] for n in names})
lags = np.arange(-10, 11)
for g in groups + ["ALL"]:
    rs = []
    for L in lags:
        pairs = []
        for n in names:
            if g != "ALL" and not n.startswith(g + "/"):
                continue
            o, t = z[f"{n}|{key}"], z[f"{n}|_tr"]
            N = len(t)
            if L >= 0:
                pairs.append((o[L:], t[:N - L]))
            else:
                pairs.append((o[:N + L], t[-L:]))
        rs.append(centred_r(pairs))
    rs = np.array(rs)
    print(f"{g:10s} r@0={rs[lags == 0][0]:.3f}  best lag {lags[rs.argmax()] * 40:+4d} ms r={rs.max():.3f}")
