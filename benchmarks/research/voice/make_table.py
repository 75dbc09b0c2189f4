"""Markdown table of every results/<tag>_<SET>.json: pooled and per-group figures.

    python make_table.py [SET]
"""
import glob, json, os, sys

which = sys.argv[1] if len(sys.argv) > 1 else None
rows = []
for f in sorted(glob.glob("results/*.json")):
    d = json.load(open(f))
    tag = os.path.basename(f)[:-5]
    if which and not tag.endswith("_" + which):
        continue
    s = d["summary"]
    groups = [g for g in s if g != "POOLED"]
    fit = d.get("fit") or {}
    rows.append((tag, s, groups, d.get("cpu_per_60s"), fit.get("fit_cpu_s"), fit.get("front_cpu_s")))
if rows:
    groups = rows[0][2]
    print("| run | pooled r (selected) | r (regressor) | std ratio (median) | " + " | ".join(groups) +
          " | CPU s / 60 s input | fit CPU s (front end) |")
    print("|" + "---|" * (6 + len(groups)))
    for tag, s, g, cpu, fc, fr in rows:
        P = s["POOLED"]
        print(f"| {tag} | {P['r']:.3f} | {P['r_reg']:.3f} | {P['std_ratio_median']:.2f} | " +
              " | ".join(f"{s[x]['r']:.2f}" if x in s else "-" for x in groups) +
              f" | {cpu:.2f} | " + (f"{fc:.0f} ({fr:.0f})" if fc else "-") + " |")
