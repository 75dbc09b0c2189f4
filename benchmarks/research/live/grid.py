"""Validation grid: opening r of the streamed selection for (look-ahead, lag), offline (deterministic).

Run: PYTHONPATH=/work/proto:. nice -n 10 python grid.py SPLIT N_SENTENCES DELAYS LAGS [SMOOTH]
  e.g. python grid.py val 50 480,240,120,0 0,1,2,4,8,none > results/grid_val.jsonl
"""
import json, sys
from bench_live import open_db, load_stream, split_names, run_offline, scores, batch_rows

split, n = sys.argv[1], int(sys.argv[2])
delays = [int(x) for x in (sys.argv[3] if len(sys.argv) > 3 else "480,240,120,0").split(",")]
lags = [None if x == "none" else int(x) for x in (sys.argv[4] if len(sys.argv) > 4 else "0,1,2,4,8,none").split(",")]
smooth = float(sys.argv[5]) if len(sys.argv) > 5 else 0.6
y, truth = load_stream(split_names(split, n))
for d in delays:
    db = open_db(d)
    b, lle = batch_rows(db, y)
    print(json.dumps({"split": split, "sentences": n, "delay_ms": d, "lag": "batch", **scores(db, b, truth[:len(b)]),
                      "lle": lle}), flush=True)
    for lag in lags:
        rows, info = run_offline(db, y, lag, 320, smooth=smooth)
        print(json.dumps({"split": split, "sentences": n, "delay_ms": d, "lag": lag, "smooth": smooth, **scores(db, rows, truth[:len(rows)]),
                          **info}), flush=True)
