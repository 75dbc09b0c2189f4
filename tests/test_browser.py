"""The web page in a real browser: headless Chromium with a fake microphone playing a held-out GRID sentence
(several times over) against `sketchsynth serve`'s app. Frames arrive, the mouth moves with the sound, the page
shows the latency; screenshots are saved (SKETCHSYNTH_SCREENSHOTS, default the test's temporary folder)."""

from __future__ import annotations

import os
import shutil
import time
import wave

import numpy as np
import pytest

from test_web import Server

SECONDS = 20


def _browser_or_skip():
    missing = [n for n in ("chromium", "chromedriver") if shutil.which(n) is None]
    try:
        import selenium  # noqa: F401
    except ImportError:
        missing.append("selenium")
    if missing:
        why = f"needs {', '.join(missing)} (Debian: apt-get install chromium chromium-driver; pip install selenium)"
        if os.environ.get("SKETCHSYNTH_REQUIRE_DATA") == "1":
            pytest.fail(why)
        pytest.skip(why)


def _driver(wav, profile):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    o = webdriver.ChromeOptions()
    o.binary_location = shutil.which("chromium")
    for f in ("--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
              "--disable-component-update", "--disable-sync", f"--user-data-dir={profile}",
              "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
              f"--use-file-for-fake-audio-capture={wav}", "--autoplay-policy=no-user-gesture-required",
              "--window-size=900,800"):
        o.add_argument(f)
    return webdriver.Chrome(service=Service(shutil.which("chromedriver")), options=o)


def test_live_page_in_chromium(grid_example, tmp_path):
    _browser_or_skip()
    pytest.importorskip("aiohttp")
    from sketchsynth.io.audio import load_audio

    y = load_audio(grid_example["input"], 16000)
    pcm = (np.clip(np.tile(y, int(np.ceil(SECONDS * 16000 / len(y)))), -1, 1) * 32767).astype("<i2")
    wav = tmp_path / "mic.wav"
    with wave.open(str(wav), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(16000)
        w.writeframes(pcm.tobytes())
    shots = os.environ.get("SKETCHSYNTH_SCREENSHOTS") or str(tmp_path / "screenshots")
    os.makedirs(shots, exist_ok=True)
    server = Server(grid_example["db"])
    d = _driver(wav, tmp_path / "profile")
    try:
        d.get(server.url + "/")
        d.find_element("id", "start").click()
        for k in range(2):
            time.sleep(SECONDS / 2)
            d.save_screenshot(os.path.join(shots, f"live_{k}.png"))
        s = d.execute_script("""const S = window.liveStats;
            return {frames: S.frames, shown: S.shown, errors: S.errors, latencies: S.latencies,
                    openings: S.openings, rms: S.rms, text: document.getElementById('stats').textContent}""")
        d.find_element("id", "stop").click()
    finally:
        d.quit()
        server.stop()
    assert not s["errors"], s["errors"]
    assert s["frames"] > 0.6 * 25 * (SECONDS - 4), "frames do not arrive"
    assert "latency median" in s["text"], "the page does not show the latency"
    op = np.array([np.nan if v is None else v for v in s["openings"]], float)
    rms = np.array([np.nan if v is None else v for v in s["rms"]], float)
    n = min(len(op), len(rms))
    op, en = op[:n], np.log1p(rms[:n])
    ok = np.isfinite(op) & np.isfinite(en)
    assert ok.sum() > 100
    assert np.nanstd(op[ok]) > 0.02 and np.corrcoef(op[ok], en[ok])[0, 1] > 0.3, "the mouth does not follow the sound"
    print(f"\nbrowser: {s['frames']} frames, {s['text'].splitlines()[0]}; screenshots in {shots}")
