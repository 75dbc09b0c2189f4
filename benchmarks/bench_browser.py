"""The live page in headless Chromium against a served database, its fake microphone 12 held-out GRID s1
sentences (about 30 s); prints the page's latency, playout and lip-sync figures.

    python benchmarks/bench_browser.py DB MODEL_120MS HELDOUT_LIST [--seconds 30]
(docs/measurements.md: DB the 700 training sentences of GRID s1, the model fitted with --lookahead-ms 120,
the list the 100 held-out sentence files; sentences 51-62 of it are spoken.)"""
import argparse, os, sys, time, wave, json, tempfile
import numpy as np
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests"))
ap = argparse.ArgumentParser(); ap.add_argument("db"); ap.add_argument("model"); ap.add_argument("heldout")
ap.add_argument("--videos", default="../shared/data/grid_s1/video"); ap.add_argument("--seconds", type=float, default=30)
a = ap.parse_args(); tmp = tempfile.mkdtemp()
from test_web import Server
from test_browser import _driver
from sketchsynth.io.audio import load_audio
from sketchsynth.targets.speech.model_file import load_model
from sketchsynth.targets.speech.model_store import use_model

names = open(a.heldout).read().split()[50:62]
y = np.concatenate([load_audio(os.path.join(a.videos, n), 16000) for n in names])
pcm = (np.clip(y, -1, 1) * 32767).astype("<i2")
with wave.open(os.path.join(tmp, "mic.wav"), "wb") as w:
    w.setnchannels(1); w.setsampwidth(2); w.setframerate(16000); w.writeframes(pcm.tobytes())
srv = Server(a.db)
use_model(srv.state.db, load_model(a.model))
srv.state.lookahead_ms = 120.0
d = _driver(os.path.join(tmp, "mic.wav"), os.path.join(tmp, "profile"))
try:
    d.get(srv.url + "/"); d.find_element("id", "start").click()
    time.sleep(a.seconds); d.save_screenshot(os.path.join(tmp, "live.png"))
    s = d.execute_script("const S = window.liveStats; return {frames: S.frames, shown: S.shown, late: S.late, lat: S.latencies, sync: S.syncErr, text: document.getElementById('stats').textContent}")
finally:
    d.quit(); srv.stop()
lat = np.array(s["lat"][25:])
print(json.dumps({"frames": s["frames"], "shown": s["shown"], "late": s["late"], "latency_median": float(np.median(lat)),
                  "latency_p95": float(np.percentile(lat, 95)), "sync_median": float(np.median(s["sync"])),
                  "sync_p95": float(np.percentile(s["sync"], 95)), "text": s["text"]}))
print("screenshot:", os.path.join(tmp, "live.png"))
