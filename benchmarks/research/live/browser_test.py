"""Headless Chromium with a fake microphone (a wav) against server.py: frames arrive, the mouth moves with the
sound, latency is shown; screenshots saved.

Needs: apt-get install chromium chromium-driver; pip install selenium. The server must be running:
  PYTHONPATH=/work/proto:. python server.py --lag 2 &
  PYTHONPATH=/work/proto:. python browser_test.py --seconds 30 --format kp --out results/browser
"""
import argparse
import json
import os
import tempfile
import time
import wave

import numpy as np


def write_wav(path, seconds):
    from bench_live import load_stream, split_names

    y, _ = load_stream(split_names("test", int(np.ceil(seconds / 3))))
    pcm = (np.clip(y[:int(seconds * 16000)], -1, 1) * 32767).astype("<i2")
    with wave.open(path, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(16000)
        w.writeframes(pcm.tobytes())


def driver(wav, profile):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    o = webdriver.ChromeOptions()
    o.binary_location = "/usr/bin/chromium"
    for f in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
              "--disable-background-networking", "--disable-component-update", "--disable-sync",
              f"--user-data-dir={profile}", "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
              f"--use-file-for-fake-audio-capture={wav}", "--autoplay-policy=no-user-gesture-required",
              "--window-size=900,800"):
        o.add_argument(f)
    return webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=o)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--url", default="http://127.0.0.1:8765/")
    ap.add_argument("--seconds", type=float, default=30)
    ap.add_argument("--format", default="kp", choices=["kp", "jpeg"])
    ap.add_argument("--out", default="results/browser")
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix="live-browser-")
    wav = os.path.join(tmp, "mic.wav")
    write_wav(wav, 60)
    d = driver(wav, os.path.join(tmp, "profile"))
    try:
        d.get(a.url)
        d.execute_script(f"document.getElementById('fmt').value = '{a.format}'")
        d.find_element("id", "start").click()
        t0 = time.time()
        shots = 0
        while time.time() - t0 < a.seconds:
            time.sleep(a.seconds / 3)
            d.save_screenshot(os.path.join(a.out, f"live_{a.format}_{shots}.png"))
            shots += 1
        s = d.execute_script("""const S = window.liveStats;
            return {state: S.state, frames: S.frames, shown: S.shown, late: S.late, errors: S.errors,
                    latencyMedian: S.latencyMedian, latencyP95: S.latencyP95, playoutMs: S.playoutMs,
                    latencies: S.latencies, syncErr: S.syncErr, openings: S.openings, rms: S.rms,
                    text: document.getElementById('stats').textContent}""")
    finally:
        d.quit()
    op = np.array([np.nan if v is None else v for v in s["openings"]], float)
    rms = np.array([np.nan if v is None else v for v in s["rms"]], float)[:len(op)]
    n = min(len(op), len(rms))
    op, rms = op[:n], np.log1p(rms[:n])
    ok = np.isfinite(op) & np.isfinite(rms)
    r = float(np.corrcoef(op[ok], rms[ok])[0, 1]) if ok.sum() > 10 else float("nan")
    lat = np.array(s["latencies"][25:])
    res = {"format": a.format, "seconds": a.seconds, "state": s["state"], "frames": s["frames"], "shown": s["shown"],
           "late": s["late"], "errors": s["errors"], "page_text": s["text"],
           "latency_ms_median": float(np.median(lat)) if len(lat) else None,
           "latency_ms_p95": float(np.percentile(lat, 95)) if len(lat) else None,
           "sync_error_ms_median": float(np.median(s["syncErr"])) if s["syncErr"] else None,
           "sync_error_ms_p95": float(np.percentile(s["syncErr"], 95)) if s["syncErr"] else None,
           "opening_std": float(np.nanstd(op)) if a.format == "kp" else None,
           "opening_vs_log_energy_r": r if a.format == "kp" else None}
    print(json.dumps(res, indent=1))
    with open(os.path.join(a.out, f"result_{a.format}.json"), "w") as fh:
        json.dump(res, fh, indent=1)
    assert s["frames"] > 0.8 * 25 * (a.seconds - 3), "frames do not arrive"
    assert "latency median" in s["text"], "latency not shown"
    if a.format == "kp":
        assert res["opening_std"] > 0.02 and r > 0.3, "the mouth does not move with the sound"
    print("browser test passed")


if __name__ == "__main__":
    main()
