"""WebRTC (aiortc) audio transit latency on this machine: two peer connections in one process, a 20 ms
Opus stream with a loud burst every 0.5 s; latency = burst received - burst sent (Opus encode + RTP +
jitter buffer + decode; no network). Compare: WebSocket round trip ~0.6 ms median (ws_client_test.py rtt).

Run: .venv-rtc/bin/python experiments/webrtc_loopback.py
"""
import asyncio, fractions, json, time
import numpy as np
from av import AudioFrame
from aiortc import RTCPeerConnection, MediaStreamTrack

SR, N = 48000, 960
sent = {}


class Beeps(MediaStreamTrack):
    kind = "audio"

    def __init__(self):
        super().__init__()
        self.i = 0
        self.t0 = None

    async def recv(self):
        if self.t0 is None:
            self.t0 = time.perf_counter()
        due = self.t0 + self.i * N / SR
        await asyncio.sleep(max(0, due - time.perf_counter()))
        x = np.zeros(N, np.int16)
        if self.i % 25 == 0:
            x[:] = (np.sin(np.arange(N) * 0.3) * 20000).astype(np.int16)
            sent[self.i // 25] = time.perf_counter()
        f = AudioFrame.from_ndarray(x[None], format="s16", layout="mono")
        f.sample_rate, f.pts, f.time_base = SR, self.i * N, fractions.Fraction(1, SR)
        self.i += 1
        return f


async def main(seconds=20):
    a, b = RTCPeerConnection(), RTCPeerConnection()
    a.addTrack(Beeps())
    got = {}
    done = asyncio.Event()

    @b.on("track")
    def on_track(track):
        async def read():
            k, loud = 0, False
            while not done.is_set():
                f = await track.recv()
                x = f.to_ndarray().astype(np.float32)
                e = np.sqrt((x ** 2).mean())
                if e > 3000 and not loud:
                    got[k] = time.perf_counter(); k += 1
                loud = e > 3000
        asyncio.ensure_future(read())

    await a.setLocalDescription(await a.createOffer())
    await b.setRemoteDescription(a.localDescription)
    await b.setLocalDescription(await b.createAnswer())
    await a.setRemoteDescription(b.localDescription)
    await asyncio.sleep(seconds)
    done.set()
    lat = [1000 * (got[k] - sent[k]) for k in got if k in sent]
    print(json.dumps({"bursts": len(lat), "audio_transit_ms_median": float(np.median(lat)),
                      "audio_transit_ms_p95": float(np.percentile(lat, 95))}))
    await a.close(); await b.close()

asyncio.run(main())
