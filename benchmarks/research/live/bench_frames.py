"""Real-frame output cost: random access into the recordings vs a JPEG frame cache (360x288).

Run: PYTHONPATH=/work/proto:. python bench_frames.py
"""
import json, os, time
import av, cv2, numpy as np

V = "/work/shared/data/grid_s1/video"
names = sorted(os.listdir(V))[:40]
rng = np.random.default_rng(0)

def frame_at(path, k):
    with av.open(path) as c:
        for i, f in enumerate(c.decode(video=0)):
            if i == k:
                return f.to_ndarray(format="bgr24")

t0 = time.perf_counter()
for _ in range(40):
    img = frame_at(os.path.join(V, names[rng.integers(40)]), int(rng.integers(75)))
t_open = (time.perf_counter() - t0) / 40 * 1000
# whole-sentence decode (a run of frames, the container opened once)
t0 = time.perf_counter()
with av.open(os.path.join(V, names[0])) as c:
    frames = [f.to_ndarray(format="bgr24") for f in c.decode(video=0)]
t_seq = (time.perf_counter() - t0) / len(frames) * 1000
jpgs = [cv2.imencode(".jpg", f, [cv2.IMWRITE_JPEG_QUALITY, 90])[1] for f in frames]
t0 = time.perf_counter()
for _ in range(5):
    for j in jpgs:
        cv2.imdecode(j, cv2.IMREAD_COLOR)
t_dec = (time.perf_counter() - t0) / (5 * len(jpgs)) * 1000
t0 = time.perf_counter()
for _ in range(5):
    for f in frames:
        cv2.imencode(".jpg", f, [cv2.IMWRITE_JPEG_QUALITY, 80])
t_enc = (time.perf_counter() - t0) / (5 * len(frames)) * 1000
print(json.dumps({"random_access_open_decode_ms": t_open, "sequential_decode_ms_per_frame": t_seq,
                  "jpeg_q90_kb": float(np.mean([len(j) for j in jpgs]) / 1024), "jpeg_decode_ms": t_dec,
                  "jpeg_encode_q80_ms": t_enc,
                  "cache_gb_for_52k_frames": float(np.mean([len(j) for j in jpgs]) * 52496 / 1e9)}))
