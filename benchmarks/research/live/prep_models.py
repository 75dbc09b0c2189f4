"""Track the held-out sentences (truth, cached) and fit speech models with shorter look-ahead.

Run: PYTHONPATH=/work/proto:. nice -n 10 python prep_models.py
Writes models/speech_d{0,120,240,480}.npz (480: a copy of the database's own) and tracks into the cache.
"""
import os, time, shutil
import numpy as np
from sketchsynth import FrameDatabase
from sketchsynth.sources.load import load_input
from sketchsynth.speech_model import SpeechModel

t0 = time.time()
names = open("heldout.txt").read().split()
for n in names:
    load_input(os.path.join("/work/shared/data/grid_s1/video", n))
print(f"tracked {len(names)} held-out sentences in {time.time() - t0:.0f} s", flush=True)
db = FrameDatabase.load("db_grid")
shutil.copy("db_grid/speech_model.npz", "models/speech_d480.npz")
for d in (240, 120, 0):
    t0 = time.time()
    m = SpeechModel(delay_ms=float(d)).fit(db)
    m.save(f"models/speech_d{d}.npz")
    print(f"fit delay {d} ms in {time.time() - t0:.0f} s: {m.describe()}", flush=True)
