"""Validation grid 2: decoder lambda and fixed-lag pruning at the settings that fit the latency budget
(look-ahead + 40 ms x lag <= 200 ms).

Run: PYTHONPATH=/work/proto:. nice -n 10 python grid2.py >> results/grid_val3.jsonl
"""
import json
import sys
from bench_live import open_db, load_stream, split_names, run_offline, scores

y, truth = load_stream(split_names("val", 50))
CONFIGS = [(200, 0, 0.6, True), (200, 0, 0.4, True), (200, 0, 0.6, False), (160, 1, 0.4, True),
           (120, 2, 0.4, True), (160, 1, 1.0, True), (120, 2, 1.0, True)]
CONFIGS = [c for c in CONFIGS if c[:2] != (200, 0) or not c[3]] if len(sys.argv) > 1 else CONFIGS  # resume
dbs = {}
for delay, lag, smooth, prune in CONFIGS:
    db = dbs.setdefault(delay, open_db(delay))
    rows, info = run_offline(db, y, lag, 320, smooth=smooth, prune=prune)
    print(json.dumps({"split": "val", "delay_ms": delay, "lag": lag, "smooth": smooth, "prune": prune,
                      **scores(db, rows, truth[:len(rows)]), **info}), flush=True)
