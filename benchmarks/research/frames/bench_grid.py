"""GRID s1 no-regression check: the frozen bench_frames.py, run with or without this prototype's patches.

    PYTHONPATH=/work/proto:/work/research/frames python bench_grid.py --work work/grid [--proto] [--n 6]
        [--modes composite,full] [--pose-weight W] [--follow F]

Same database (700 TRAIN sentences), inputs (6 TEST sentences) and figures (unfilled pixels, change p99 /
real, mouth LMD) as /work/proto/benchmarks/bench_frames.py, whose main() it calls.
"""
import argparse
import sys

sys.path.insert(0, "/work/proto/benchmarks")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--work", required=True)
    ap.add_argument("--proto", action="store_true")
    ap.add_argument("--n", default="6")
    ap.add_argument("--modes", default="composite,full")
    ap.add_argument("--pose-weight", type=float, default=None)
    ap.add_argument("--follow", type=float, default=1.0)
    ap.add_argument("--max-follow", type=float, default=0.06)
    a = ap.parse_args()
    if not a.proto:
        import pose as P
        import run

        run.install(P.DEFAULT_POSE_WEIGHT if a.pose_weight is None else a.pose_weight, True, "morph", a.follow,
                    a.max_follow)
        run.STATE["crf"] = 18
    import bench_frames

    bench_frames.main(["--n", a.n, "--modes", a.modes, "--work", a.work])


if __name__ == "__main__":
    main()
