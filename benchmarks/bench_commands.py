"""Speed of the commands themselves: each one run as a user runs it, a new process, start-up included.

Every figure is a ratio against a baseline measured in the same run (the machine is shared and noisy);
wall time is what a user waits, CPU time (user + system of the process and its children) is what the
command itself spends whatever else runs on the machine.

- ``sketchsynth match`` on the 3,000 held-out henan JSON frames against the 75,120-frame benchmark
  database (see _data.py), warm (kernels compiled, IVF cached), all outputs written. Baseline: the
  method's per-frame loop over the database (bench_foundation.method_loop_seconds). Goal <= 2.5 s, >= 200x.
- ``sketchsynth build-db`` on the 75,120 JSON files. Baseline: a plain ``json.load`` loop over them
  (bench_foundation.json_load_loop). Goal >= 3x.
- ``sketchsynth match clip.mpg``, a 3 s GRID clip (sbia1a) against the demo's database (the 100 bundled GRID s1 sentences)
  (examples/grid_s1/recordings, the demo's), warm (its face track cached) and with an empty track cache.
  Baseline: the clip's duration. Goal <= 4 s warm.
- the first ``sketchsynth demo`` after a fresh install: the package copied to a new folder (no compiled
  numba kernels, no bytecode), a fresh $SKETCHSYNTH_CACHE (tracks, IVF). Baseline: a second demo run right
  after it (everything compiled and cached). Goal <= 30 s.
- ``sketchsynth --help``. Baseline: ``python -c pass``.

``--ref GIT_REF`` also runs every command with another version of the package (e.g. ``main``, extracted
with ``git archive``) in the same run, so before/after figures come from the same conditions.

Run:  python benchmarks/bench_commands.py [--quick] [--ref main] [--workdir DIR] [--json out.json]
(--quick: one timed run per command instead of the best of three, 10 frames for the per-frame loop,
no fresh-install demo unless --demo.)
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, os.fspath(Path(__file__).parent))
from _data import ROOT, SHARED, make_bench_recordings, make_heldout_folder  # noqa: E402
from bench_foundation import json_load_loop, method_loop_seconds  # noqa: E402

VIDEO_INPUT = SHARED / "videos" / "grid" / "sbia1a.mpg"
VIDEO_DB_CLIPS = ROOT / "examples" / "grid_s1" / "recordings"


NEUTRAL_CWD = tempfile.gettempdir()  # not the checkout: its sketchsynth/ would shadow the version asked for


def run(cmd, env=None, cwd=None, check=True):
    """Run a command to its end: (wall seconds, CPU seconds of it and its children, completed process)."""
    cwd = NEUTRAL_CWD if cwd is None else cwd
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    proc = subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True)
    wall = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if check and proc.returncode != 0:
        raise SystemExit(f"{' '.join(map(str, cmd))} failed ({proc.returncode}):\n{proc.stderr[-2000:]}")
    return wall, cpu, proc


def best(times):
    """The run with the least wall time: (wall, cpu)."""
    return min(times)


class Package:
    """A version of sketchsynth to run commands with: the installed one, or a copy of its sources."""

    def __init__(self, name: str, src: Path | None, cache: Path):
        self.name, self.src, self.cache = name, src, cache

    def env(self, **extra):
        env = dict(os.environ, SKETCHSYNTH_CACHE=os.fspath(self.cache))
        env.update(extra)
        if self.src is not None:  # ahead of the editable install's finder
            env["PYTHONPATH"] = os.pathsep.join([os.fspath(self.src)] + [p for p in [env.get("PYTHONPATH")] if p])
        return env

    def cmd(self, *args):
        return [sys.executable, "-m", "sketchsynth.cli", *map(os.fspath, args)]

    def check(self):
        _, _, p = run([sys.executable, "-c", "import sketchsynth; print(sketchsynth.__file__)"], env=self.env())
        where = Path(p.stdout.strip()).resolve()
        want = (self.src / "sketchsynth" / "__init__.py").resolve() if self.src else None
        if want is not None and where != want:
            raise SystemExit(f"{self.name}: imports {where}, not {want}")
        return where


def copy_package(dst: Path, ref: str | None = None) -> Path:
    """The package's sources and examples in a new folder: the working tree's, or git REF's."""
    if dst.exists():
        shutil.rmtree(dst)
    dst.mkdir(parents=True)
    if ref is None:
        ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.nbi", "*.nbc")
        for part in ("sketchsynth", "examples"):
            shutil.copytree(ROOT / part, dst / part, ignore=ignore)
    else:
        archive = subprocess.run(["git", "-C", os.fspath(ROOT), "archive", ref, "sketchsynth", "examples"],
                                 capture_output=True, check=True).stdout
        subprocess.run(["tar", "-x", "-C", os.fspath(dst)], input=archive, check=True)
    return dst


def ratio_line(what, wall, cpu, base_name, base, goal_text, ok):
    return (f"{what}: {wall:.2f} s wall ({cpu:.2f} s CPU); {base_name} {base:.2f} s -> "
            f"{base / wall:.1f}x  [{goal_text}: {'PASS' if ok else 'FAIL'}]")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="one timed run each, fewer baseline frames, no demo")
    ap.add_argument("--demo", action="store_true", help="with --quick: run the fresh-install demo too")
    ap.add_argument("--ref", default=None, help="git ref of a version to compare with in the same run")
    ap.add_argument("--workdir", default=os.path.join(tempfile.gettempdir(), "sketchsynth-bench"))
    ap.add_argument("--json", default=None, help="also write the figures here")
    args = ap.parse_args(argv)
    repeat = 1 if args.quick else 3
    work = Path(args.workdir)
    work.mkdir(parents=True, exist_ok=True)
    res: dict = {"cpus": os.cpu_count(), "repeat": repeat, "load_avg_start": os.getloadavg()}

    packages = [Package("this", None, work / "cache-cmd")]
    if args.ref:
        packages.append(Package(args.ref, copy_package(work / f"ref-{args.ref.replace('/', '_')}", args.ref),
                                work / f"cache-cmd-{args.ref.replace('/', '_')}"))
    for pkg in packages:
        print(f"[{pkg.name}] sketchsynth from {pkg.check()}")

    # -- data -------------------------------------------------------------------------------------------
    rec = make_bench_recordings(work / "recordings_75120")
    heldout = make_heldout_folder(work / "heldout_json")
    n_files = sum(1 for d in rec.iterdir() if d.is_dir() for _ in os.scandir(d))

    # -- sketchsynth --help -----------------------------------------------------------------------------
    t_py = best([run([sys.executable, "-c", "pass"])[:2] for _ in range(3)])
    res["help"] = {}
    for pkg in packages:
        run(pkg.cmd("--help"), env=pkg.env())
        w, c = best([run(pkg.cmd("match", "--help"), env=pkg.env())[:2] for _ in range(3)])
        res["help"][pkg.name] = {"wall_s": w, "cpu_s": c, "python_start_s": t_py[0]}
        print(f"[{pkg.name}] sketchsynth match --help: {w:.2f} s wall ({c:.2f} s CPU); `python -c pass` "
              f"{t_py[0]:.2f} s -> {w / t_py[0]:.1f}x the interpreter's own start")

    # -- build-db ---------------------------------------------------------------------------------------
    json_load_loop(rec)  # page cache warm for both contenders
    t_json, c_json = min(timed(lambda: json_load_loop(rec)) for _ in range(1 if args.quick else 2))
    res["build_db"] = {"json_load_loop_s": t_json, "json_load_loop_cpu_s": c_json, "files": n_files}
    db = work / "db-cmd"
    for pkg in packages:
        runs = []
        for i in range(repeat + 1):  # the first run compiles/loads the kernels
            target = work / f"db-cmd-{pkg.name}-{i}"
            shutil.rmtree(target, ignore_errors=True)
            runs.append(run(pkg.cmd("build-db", rec, "--db", target), env=pkg.env())[:2])
            if i:
                shutil.rmtree(target, ignore_errors=True)
            else:
                if pkg is packages[0]:
                    shutil.rmtree(db, ignore_errors=True)
                    os.rename(target, db)
                else:
                    shutil.rmtree(target, ignore_errors=True)
        w, c = best(runs[1:])
        res["build_db"][pkg.name] = {"wall_s": w, "cpu_s": c, "speedup": t_json / w, "cpu_speedup": c_json / c}
        print(f"[{pkg.name}] " + ratio_line(f"build-db, {n_files} JSON files, command", w, c,
                                            "plain json.load loop", t_json, ">= 3x", t_json / w >= 3)
              + f"; CPU {c_json:.2f} s vs {c:.2f} s -> {c_json / c:.1f}x")

    # -- match, 3,000 JSON frames -----------------------------------------------------------------------
    from sketchsynth import FrameDatabase, match
    from sketchsynth.sources.load import load_input

    os.environ["SKETCHSYNTH_CACHE"] = os.fspath(packages[0].cache)
    dbo = FrameDatabase.load(db)
    track = load_input(heldout)
    per_frame = match(dbo, track.keypoints, metric="sum")
    n_timed = 10 if args.quick else 30
    c0 = time.process_time()
    t_loop, t_timed, *_ = method_loop_seconds(dbo, per_frame, n_timed)
    c_loop = (time.process_time() - c0) / t_timed * t_loop  # its CPU time, extrapolated the same way
    res["match_json"] = {"frames": len(track), "db_frames": int(dbo.n_usable_), "method_loop_s": t_loop,
                         "method_loop_cpu_s": c_loop, "method_loop_timed_frames": n_timed}
    print(f"the method's per-frame loop, {len(track)} frames vs {dbo.n_usable_}: {t_loop:.0f} s wall, "
          f"{c_loop:.0f} s CPU ({n_timed} frames timed, extrapolated)")
    for pkg in packages:
        runs = []
        for i in range(repeat + 1):  # the first run: kernels loaded, IVF trained and cached
            out = work / f"out-match-{pkg.name}-{i}"
            shutil.rmtree(out, ignore_errors=True)
            runs.append(run(pkg.cmd("match", heldout, "--db", db, "--out", out), env=pkg.env())[:2])
            if i == 0:
                check_match_output(out, len(track))
            shutil.rmtree(out, ignore_errors=True)
        w, c = best(runs[1:])
        ok = w <= 2.5 and t_loop / w >= 200
        res["match_json"][pkg.name] = {"wall_s": w, "cpu_s": c, "speedup": t_loop / w, "cpu_speedup": c_loop / c,
                                       "first_run_s": runs[0][0]}
        print(f"[{pkg.name}] " + ratio_line(f"match command, {len(track)} JSON frames, warm", w, c,
                                            "method's per-frame loop", t_loop, "<= 2.5 s and >= 200x", ok)
              + f"; CPU {c_loop / c:.0f}x")

    # -- match, a 3 s GRID clip -------------------------------------------------------------------------
    import av

    with av.open(os.fspath(VIDEO_INPUT)) as f:
        clip_s = float(f.duration / 1e6) if f.duration else 3.0
    res["match_video"] = {"clip": VIDEO_INPUT.name, "clip_s": clip_s}
    for pkg in packages:
        vdb = work / f"db-video-{pkg.name}"
        shutil.rmtree(vdb, ignore_errors=True)
        run(pkg.cmd("build-db", VIDEO_DB_CLIPS, "--db", vdb), env=pkg.env())
        cold_cache = work / f"cache-video-cold-{pkg.name}"
        cold = []
        for i in range(repeat):  # tracks not cached (the database's own tracks are not needed by match)
            shutil.rmtree(cold_cache, ignore_errors=True)
            out = work / f"out-video-{pkg.name}"
            shutil.rmtree(out, ignore_errors=True)
            cold.append(run(pkg.cmd("match", VIDEO_INPUT, "--db", vdb, "--out", out),
                            env=pkg.env(SKETCHSYNTH_CACHE=os.fspath(cold_cache)))[:2])
        warm = []
        for i in range(repeat + 1):
            out = work / f"out-video-{pkg.name}"
            shutil.rmtree(out, ignore_errors=True)
            warm.append(run(pkg.cmd("match", VIDEO_INPUT, "--db", vdb, "--out", out), env=pkg.env())[:2])
            if i == 0:
                check_video_output(out)
        shutil.rmtree(out, ignore_errors=True)
        (w, c), (wc, cc) = best(warm[1:]), best(cold)
        res["match_video"][pkg.name] = {"warm_wall_s": w, "warm_cpu_s": c, "untracked_wall_s": wc,
                                        "untracked_cpu_s": cc}
        print(f"[{pkg.name}] " + ratio_line(f"match {VIDEO_INPUT.name} ({clip_s:.1f} s clip), warm", w, c,
                                            "the clip's duration", clip_s, "<= 4 s", w <= 4.0))
        print(f"[{pkg.name}]   same, its track not cached (tracked first): {wc:.2f} s wall ({cc:.2f} s CPU), "
              f"{wc / clip_s:.2f}x the clip's duration")

    # -- the first demo after a fresh install -----------------------------------------------------------
    if not args.quick or args.demo:
        res["demo"] = {}
        for pkg in packages:
            fresh = copy_package(work / f"fresh-{pkg.name}", None if pkg.src is None else args.ref)
            p = Package(pkg.name, fresh, work / f"cache-fresh-{pkg.name}")
            shutil.rmtree(p.cache, ignore_errors=True)
            cwd = work / f"demo-run-{pkg.name}"
            shutil.rmtree(cwd, ignore_errors=True)
            cwd.mkdir()
            first = run(p.cmd("demo"), env=p.env(), cwd=cwd)[:2]
            again = run(p.cmd("demo"), env=p.env(), cwd=cwd)[:2]
            res["demo"][pkg.name] = {"first_wall_s": first[0], "first_cpu_s": first[1], "again_wall_s": again[0],
                                     "again_cpu_s": again[1]}
            print(f"[{pkg.name}] first demo after a fresh install: {first[0]:.1f} s wall ({first[1]:.1f} s CPU); "
                  f"the same demo again {again[0]:.1f} s -> compiling and first-time caches cost "
                  f"{first[0] - again[0]:.1f} s  [<= 30 s: {'PASS' if first[0] <= 30 else 'FAIL'}]")
            shutil.rmtree(fresh, ignore_errors=True)
    if len(packages) > 1:
        ref = packages[1].name
        print(f"this version vs {ref}, same run (wall s / CPU s):")
        rows = [("match --help", res["help"], "wall_s", "cpu_s"),
                ("build-db, 75,120 JSON", res["build_db"], "wall_s", "cpu_s"),
                ("match, 3,000 JSON frames", res["match_json"], "wall_s", "cpu_s"),
                (f"match {VIDEO_INPUT.name}, warm", res["match_video"], "warm_wall_s", "warm_cpu_s"),
                (f"match {VIDEO_INPUT.name}, not tracked yet", res["match_video"], "untracked_wall_s",
                 "untracked_cpu_s")]
        if "demo" in res:
            rows.append(("first demo after install", res["demo"], "first_wall_s", "first_cpu_s"))
        for name, d, kw, kc in rows:
            a, b = d["this"], d[ref]
            print(f"  {name:38s} {b[kw]:7.2f} / {b[kc]:6.2f}  ->  {a[kw]:7.2f} / {a[kc]:6.2f}   "
                  f"({b[kc] / a[kc]:.2f}x less CPU)")
    res["load_avg_end"] = os.getloadavg()
    print(f"load average at start {res['load_avg_start'][0]:.1f}, at end {res['load_avg_end'][0]:.1f} "
          f"({os.cpu_count()} CPUs)")
    if args.json:
        Path(args.json).write_text(json.dumps(res, indent=1))
    return res


def timed(fn):
    """(wall, CPU) seconds of fn() in this process."""
    t, c = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - t, time.process_time() - c


def check_match_output(out: Path, n: int):
    """The command really wrote what it says (so a fast run is not a broken one)."""
    names = [p for p in (out / "matched").iterdir() if p.name.endswith("_keypoints.json")]
    rows = (out / "selection.csv").read_text().count("\n") - 1
    if len(names) != n or rows != n or not (out / "comparison.png").stat().st_size:
        raise SystemExit(f"match wrote {len(names)} JSON files and {rows} rows for {n} frames in {out}")


def check_video_output(out: Path):
    for name in ("sketch.mp4", "frames.mp4", "selection.csv", "comparison.png"):
        if not (out / name).is_file() or not (out / name).stat().st_size:
            raise SystemExit(f"match on a video did not write {out / name}")


if __name__ == "__main__":
    main()
