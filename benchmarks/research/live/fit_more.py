"""Fit speech models with 160 and 200 ms look-ahead (multiples of the 40 ms context step).
Run: PYTHONPATH=/work/proto:. nice -n 10 python fit_more.py"""
import time
from sketchsynth import FrameDatabase
from sketchsynth.speech_model import SpeechModel
db = FrameDatabase.load("db_grid")
for d in (160, 200):
    t0 = time.time()
    SpeechModel(delay_ms=float(d)).fit(db).save(f"models/speech_d{d}.npz")
    print(f"fit delay {d} ms in {time.time() - t0:.0f} s", flush=True)
