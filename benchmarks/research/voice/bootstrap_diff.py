"""Paired clip bootstrap of the pooled within-clip opening r: run B minus run A (same clips).

    python bootstrap_diff.py results/A_VAL_series.npz results/B_VAL_series.npz [_o_sel]
"""
import sys
import numpy as np
from eval_drivers import centred_r

a, b = np.load(sys.argv[1]), np.load(sys.argv[2])
key = sys.argv[3] if len(sys.argv) > 3 else "_o_sel"
names = sorted({k.split("|")[0] for k in a.files})
rng = np.random.default_rng(0)
def r(z, ns):
    return centred_r([(z[f"{n}|{key}"], z[f"{n}|_tr"]) for n in ns])
d0 = r(b, names) - r(a, names)
ds = []
for _ in range(2000):
    ns = [names[i] for i in rng.integers(0, len(names), len(names))]
    ds.append(r(b, ns) - r(a, ns))
lo, hi = np.quantile(ds, [0.025, 0.975])
print(f"B - A = {d0:+.3f}  95% CI [{lo:+.3f}, {hi:+.3f}]  P(B>A) = {np.mean(np.array(ds) > 0):.2f}")
