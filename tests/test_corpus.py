"""Run the whole bad-input corpus through the CLI: every case one clean line, exit 2, nothing half-written,
nothing of the user's changed or deleted."""

import os
import resource
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from sketchsynth import FrameDatabase
from sketchsynth.cli import cli

sys.path.insert(0, str(Path(__file__).parent / "corpus"))
from make_corpus import build_corpus  # noqa: E402


@pytest.fixture(scope="module")
def corpus(shared_data, example_db, tmp_path_factory):
    root = tmp_path_factory.mktemp("corpus")
    return build_corpus(root, shared_data, example_db)


def _snapshot(root: Path) -> dict:
    """Every file and link under ``root`` (not followed): what a write, a replace or a delete would change."""
    seen = {}
    cache = os.environ.get("SKETCHSYNTH_CACHE")  # sketchsynth's own caches may grow (a faceless video's track)
    for folder, dirs, files in os.walk(root):
        for name in dirs + files:
            p = os.path.join(folder, name)
            if cache and (p + os.sep).startswith(os.path.join(cache, "")):
                continue
            st = os.lstat(p)
            seen[p] = (st.st_mode, st.st_ino, st.st_size, 0 if os.path.isdir(p) else st.st_mtime_ns,
                       os.readlink(p) if os.path.islink(p) else None)
    return seen


def _tree_problems(before: dict, after: dict) -> list:
    problems = []
    changed = [p for p, v in before.items() if after.get(p) != v and not os.path.basename(p).endswith(".lock")]
    if changed:
        problems.append(f"changed or deleted {[os.path.relpath(p) for p in changed[:3]]}")
    new = [p for p in after if p not in before and not os.path.basename(p).endswith(".lock")]
    if new:
        problems.append(f"left new files {[os.path.relpath(p) for p in new[:3]]}")
    return problems


def _problems(case, result):
    problems = []
    if result.exit_code != 2:
        problems.append(f"exit {result.exit_code}" + (f" ({type(result.exception).__name__}: {result.exception})"
                                                       if result.exception and result.exit_code != 2 else ""))
    lines = result.stderr.strip().splitlines()
    if len(lines) != 1:
        problems.append(f"{len(lines)} stderr lines")
    text = result.stderr + result.stdout
    if "Traceback" in text:
        problems.append("traceback")
    line = lines[0] if lines else ""
    for frag in case.expect:
        if frag not in line:
            problems.append(f"missing {frag!r}")
    for frag in case.forbid:
        if frag in line:
            problems.append(f"says {frag!r}")
    for p in case.must_not_exist:
        if Path(p).exists():
            problems.append(f"left {p}")
        stray = [q.name for q in Path(p).parent.glob(f".{Path(p).name}.tmp-*")] if Path(p).parent.exists() else []
        if stray:
            problems.append(f"left temporary {stray}")
    for db in case.unchanged:
        try:
            FrameDatabase.load(db, verify="sha256")
        except Exception as e:  # noqa: BLE001 - any failure here is the finding
            problems.append(f"database {db} damaged: {e}")
    return problems, line


def test_every_bad_input_is_one_clean_error(corpus, tmp_path_factory):
    runner = CliRunner()
    kinds = {}
    failures = []
    root = tmp_path_factory.getbasetemp()  # the corpus, the example database and the caches
    tree = _snapshot(root)
    for case in corpus:
        old = os.getcwd()
        limit = resource.getrlimit(resource.RLIMIT_FSIZE)
        try:
            if case.cwd is not None:
                os.chdir(case.cwd)
            if case.fsize is not None:  # Python ignores SIGXFSZ: a write past the limit raises EFBIG
                resource.setrlimit(resource.RLIMIT_FSIZE, (case.fsize, limit[1]))
            result = runner.invoke(cli, case.args)
        finally:
            resource.setrlimit(resource.RLIMIT_FSIZE, limit)
            os.chdir(old)
        problems, line = _problems(case, result)
        after = _snapshot(root)
        problems += _tree_problems(tree, after)
        tree = after
        kinds.setdefault(case.kind, [0, 0])
        kinds[case.kind][0] += 1
        if problems:
            failures.append(f"{case.id}: {', '.join(problems)} | {line}")
        else:
            kinds[case.kind][1] += 1
    clean = sum(v[1] for v in kinds.values())
    print(f"\n{len(corpus)} cases, {clean} clean errors ("
          + ", ".join(f"{k}: {v[1]}/{v[0]}" for k, v in sorted(kinds.items())) + ")")
    assert not failures, "\n".join(failures)
    assert len(corpus) >= 175
