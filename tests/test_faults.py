"""Faults a user can cause, through the command line: what a run promises under each
(docs/faults.md lists them).

Most cases call the CLI's `main` in this process, which is train.py without the interpreter's
start-up: signals are real signals sent to this process from inside the phase under test
(tests/fault_hooks.py), so each lands where it should without any timing. The cases that need a
second process (a lock held by another writer, kill -9, exit codes of a real process, ulimit -f)
start `python -m tests.fault_cli`, which pauses at a phase and says so on stdout.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import resource
import shutil
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import torch
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from metarl import checkpoint, evaluate, storage
from metarl.algos.base import MetaLearner
from metarl.cli import main
from tests.fault_hooks import pause_at, send

ROOT = Path(__file__).resolve().parent.parent
SIGNALS = [signal.SIGINT, signal.SIGTERM]
TINY = [
    "--algo",
    "maml",
    "--device",
    "cpu",
    "--set",
    "sampler.meta_batch_size=2",
    "sampler.episodes_per_task=2",
    "policy.hidden_sizes=[8]",
    "env.horizon=10",
    "eval.num_tasks=2",
    "eval.episodes_per_task=2",
    "eval.steps=1",
]


def fresh(root: Path, *extra: str, iterations: int = 4, evaluate: bool = False) -> list[str]:
    """A new 4-iteration run with a checkpoint at iteration 3 (and final.pt at 4)."""
    return [
        "--iterations",
        str(iterations),
        *TINY,
        f"log.root={root / 'runs'}",
        "log.checkpoint_every=3",
        f"eval.at_end={str(evaluate).lower()}",
        *extra,
    ]


def run_dirs(root: Path) -> list[Path]:
    parent = root / "runs" / "point-goal" / "maml"
    return sorted(parent.iterdir()) if parent.is_dir() else []


def cli(argv: list[str], capsys) -> tuple[int, str, str]:
    code = main(argv)
    out = capsys.readouterr()
    return code, out.out, out.err


def snapshot(run_dir: Path, lock: bool = True) -> dict[str, str]:
    """Every file of a run by content (the lock file's too, unless lock=False)."""
    return {
        str(p.relative_to(run_dir)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(run_dir.rglob("*"))
        if p.is_file() and (lock or p.name != ".lock")
    }


def steps(run_dir: Path, tag: str = "returns/pre_adapt") -> list[int]:
    acc = EventAccumulator(str(run_dir), size_guidance={"scalars": 0})
    acc.Reload()
    return [e.step for e in acc.Scalars(tag)]


def assert_history(run_dir: Path, iterations: int) -> None:
    """Every training curve has each iteration once: no gap, nothing hidden, no duplicate."""
    acc = EventAccumulator(str(run_dir), size_guidance={"scalars": 0})
    acc.Reload()
    tags = [t for t in acc.Tags()["scalars"] if not t.startswith("eval/")]
    assert "returns/post_adapt" in tags
    for tag in tags:
        assert [e.step for e in acc.Scalars(tag)] == list(range(1, iterations + 1)), tag


def names(run_dir: Path) -> list[str]:
    return sorted(p.name for p in (run_dir / "checkpoints").iterdir())


@pytest.fixture(autouse=True)
def sigint_not_ignored():
    """metarl leaves a signal its parent ignored alone, and a shell's background job ignores
    SIGINT: these tests send SIGINT, so they undo that whoever started pytest."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


def default_signals() -> None:
    """preexec_fn of a run the test signals (see sigint_not_ignored)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.fixture(scope="module")
def base_run(tmp_path_factory) -> Path:
    """A run that trained 2 iterations (checkpoints after 1 and 2); tests resume copies of it."""
    root = tmp_path_factory.mktemp("base")
    assert main(fresh(root, "log.checkpoint_every=1", iterations=2)) == 0
    (run_dir,) = run_dirs(root)
    return run_dir


@pytest.fixture
def run_copy(base_run, tmp_path) -> Path:
    return Path(shutil.copytree(base_run, tmp_path / "run"))


# --- signals in every phase ---------------------------------------------------------------------

PHASE_CASES = {
    # id: (phase, at, signals sent, resume, evaluate at the end)
    "reading-the-command-line": ("command-line", 1, 1, False, False),
    "start-up": ("build", 1, 1, False, False),
    "start-up-after-the-run-dir": ("logger", 1, 1, False, False),
    "start-up-of-a-resume": ("build", 1, 1, True, False),
    "sampling": ("sampling", 2, 1, False, False),
    "adaptation": ("adaptation", 2, 1, False, False),
    "update": ("update", 2, 1, False, False),
    "checkpointing": ("checkpoint", 1, 1, False, False),
    "last-iteration": ("update", 4, 1, False, True),
    "final-evaluation": ("evaluation", 1, 1, False, True),
    "second-signal-in-an-iteration": ("update", 4, 2, False, False),
    "second-signal-while-checkpointing": ("checkpoint", 1, 2, False, False),
}


def expected(case: str, sig: str, run: str) -> tuple[str, list[str] | None, list[int]]:
    """The one line the run ends with, its checkpoints afterwards (None: no run directory is
    left) and the iterations in its TensorBoard history."""
    resume = f"Continue with: python train.py --resume {run}"
    saved = f"'{run}/checkpoints/"
    stopped_after_2 = (
        f"Stopped by {sig} after iteration 2 of 4: saved {saved}iter_000002.pt'. {resume}",
        ["iter_000002.pt"],
        [1, 2],
    )
    return {
        "reading-the-command-line": (
            f"Stopped by {sig} during start-up: nothing was saved.",
            None,
            [],
        ),
        "start-up": (f"Stopped by {sig} during start-up: nothing was saved.", None, []),
        "start-up-after-the-run-dir": (
            f"Stopped by {sig} during start-up: nothing was saved (the new run directory "
            f"'{run}' was removed).",
            None,
            [],
        ),
        "start-up-of-a-resume": (
            f"Stopped by {sig} during start-up: the run is unchanged; the newest checkpoint is "
            f"{saved}final.pt' (iteration 2). {resume}",
            ["final.pt", "iter_000001.pt"],
            [1, 2],
        ),
        "sampling": stopped_after_2,
        "adaptation": stopped_after_2,
        "update": stopped_after_2,
        "checkpointing": (
            f"Stopped by {sig} after iteration 3 of 4: saved {saved}iter_000003.pt'. {resume}",
            ["iter_000003.pt"],
            [1, 2, 3],
        ),
        "last-iteration": (
            f"Stopped by {sig} in the last iteration: training is complete, saved "
            f"{saved}final.pt' (iteration 4); the final evaluation was skipped (run it with: "
            f"python -m metarl.evaluate {run}).",
            ["final.pt", "iter_000003.pt"],
            [1, 2, 3, 4],
        ),
        "final-evaluation": (
            f"Stopped by {sig} during the final evaluation, which was abandoned: training is "
            f"complete, saved {saved}final.pt' (iteration 4). Evaluate it with: "
            f"python -m metarl.evaluate {run}",
            ["final.pt", "iter_000003.pt"],
            [1, 2, 3, 4],
        ),
        "second-signal-in-an-iteration": (
            f"Stopped by {sig} during iteration 4 of 4, which was abandoned: the newest "
            f"checkpoint is {saved}iter_000003.pt' (iteration 3). {resume}",
            ["iter_000003.pt"],
            [1, 2, 3],
        ),
        "second-signal-while-checkpointing": (
            f"Stopped by {sig} during the checkpoint of iteration 3, which was abandoned: no "
            "checkpoint had been saved yet, so there is nothing to resume",
            [],
            [1, 2, 3],
        ),
    }[case]


@pytest.mark.parametrize("signum", SIGNALS, ids=lambda s: signal.Signals(s).name)
@pytest.mark.parametrize("case", list(PHASE_CASES))
def test_a_signal_in_each_phase_saves_what_it_promises(
    case, signum, base_run, tmp_path, monkeypatch, capsys
):
    phase, at, count, resume, evaluate_at_end = PHASE_CASES[case]
    pause_at(phase, at, send(*[signum] * count), monkeypatch.setattr)
    if resume:
        run_dir = Path(shutil.copytree(base_run, tmp_path / "run"))
        before = snapshot(run_dir, lock=False)
        argv = ["--resume", str(run_dir), "--iterations", "4"]
    else:
        argv = fresh(tmp_path, evaluate=evaluate_at_end)
    code, out, err = cli(argv, capsys)

    sig = signal.Signals(signum).name
    if not resume:
        run_dir = (
            Path(out.split("Run directory: ")[1].split()[0]) if "Run directory" in out else None
        )
    line, checkpoints, history = expected(case, sig, str(run_dir))
    assert code == 128 + signum, err
    assert "Traceback" not in err
    assert err.strip().splitlines()[-1] == line
    if count == 2:
        assert f"Received {sig}: the run stops once" in out  # the first signal was acknowledged
    if checkpoints is None:
        assert run_dirs(tmp_path) == [], "a fresh run stopped in start-up leaves no directory"
        return
    assert names(run_dir) == checkpoints  # no temporary file either
    assert steps(run_dir) == history
    if resume:
        assert snapshot(run_dir, lock=False) == before
    if checkpoints:
        newest = run_dir / "checkpoints" / checkpoints[0]
        assert checkpoint.load(newest)["iteration"] == max(history)
    assert not (run_dir / "eval").exists()


@pytest.mark.parametrize(
    "phase, at, signum, evaluate_at_end, line",
    [
        ("build", 1, signal.SIGINT, False, "Stopped by SIGINT during start-up: nothing was saved."),
        ("update", 4, signal.SIGTERM, True, "Stopped by SIGTERM in the last iteration"),
        ("evaluation", 1, signal.SIGTERM, True, "Stopped by SIGTERM during the final evaluation"),
    ],
    ids=["sigint-in-start-up", "sigterm-in-the-last-iteration", "sigterm-in-the-evaluation"],
)
def test_a_real_process_exits_with_the_signal_code(
    phase, at, signum, evaluate_at_end, line, tmp_path
):
    proc = start([phase, str(at), "1", *fresh(tmp_path, evaluate=evaluate_at_end)])
    wait_paused(proc)
    proc.send_signal(signum)
    out, err = proc.communicate(timeout=600)
    assert proc.returncode == 128 + signum, err
    assert "Traceback" not in err
    assert err.strip().splitlines()[-1].startswith(line)
    if phase == "build":
        assert run_dirs(tmp_path) == []
    else:
        (run_dir,) = run_dirs(tmp_path)
        assert checkpoint.load(run_dir / "checkpoints" / "final.pt")["iteration"] == 4
        assert not (run_dir / "eval" / "adaptation.json").exists()


def test_a_signal_during_a_standalone_evaluation_exits_with_its_code(run_copy, capsys):
    with pytest.MonkeyPatch.context() as mp:
        pause_at("evaluation", 1, send(signal.SIGINT), mp.setattr)
        code = evaluate.main([str(run_copy), "--device", "cpu"])
    err = capsys.readouterr().err
    assert code == 130
    assert err.startswith("Stopped by SIGINT during the evaluation, which was abandoned")


# --- one writer per run ---------------------------------------------------------------------


def start(args: list[str]) -> subprocess.Popen:
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.fault_cli", *args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=default_signals,
    )
    watchdog = threading.Timer(900, proc.kill)  # a hung run fails the test instead of hanging it
    watchdog.daemon = True
    watchdog.start()
    return proc


def wait_paused(proc: subprocess.Popen) -> None:
    for line in proc.stdout:
        if line.startswith("PAUSED"):
            return
    raise AssertionError(f"the run ended before its pause:\n{proc.stderr.read()}")


def test_a_second_writer_is_refused_and_the_history_stays_complete(run_copy, capsys):
    holder = start(["update", "1", "1", "--resume", str(run_copy), "--iterations", "4"])
    wait_paused(holder)  # in the update of iteration 3, holding the lock
    before = snapshot(run_copy)
    for second in (
        lambda: main(["--resume", str(run_copy)]),
        lambda: main(["--resume", str(run_copy), "--iterations", "6"]),
        lambda: evaluate.main([str(run_copy), "--device", "cpu"]),
    ):
        assert second() == 2
        err = capsys.readouterr().err
        assert err.startswith(f"error: Run directory '{run_copy}' is in use: PID {holder.pid} ")
        assert "training (resume) since" in err and f"kill -TERM {holder.pid}" in err
    assert snapshot(run_copy) == before, "a refused writer changed the run"

    holder.send_signal(signal.SIGTERM)
    _, err = holder.communicate(timeout=600)
    assert holder.returncode == 143, err
    assert names(run_copy) == ["final.pt", "iter_000001.pt", "iter_000003.pt"]
    assert main(["--resume", str(run_copy)]) == 0  # the lock went with the holder
    assert_history(run_copy, 4)


def test_a_killed_writer_leaves_no_lock_and_its_temporary_file_is_removed(run_copy):
    holder = start(["checkpoint", "1", "1", "--resume", str(run_copy), "--iterations", "4"])
    wait_paused(holder)  # writing the checkpoint of iteration 3
    (tmp,) = (run_copy / "checkpoints").glob(".*.tmp")
    holder.kill()
    holder.communicate(timeout=60)
    assert tmp.exists()
    assert main(["--resume", str(run_copy)]) == 0
    assert not tmp.exists()
    assert names(run_copy) == ["final.pt", "iter_000001.pt", "iter_000003.pt"]
    assert checkpoint.load(run_copy / "checkpoints" / "final.pt")["iteration"] == 4
    assert_history(run_copy, 4)


# --- no traceback for any fault a user can cause -------------------------------------------------


def tamper(run_dir: Path, change) -> None:
    path = run_dir / "checkpoints" / "final.pt"
    state = torch.load(path, weights_only=True)
    change(state)
    torch.save(state, path)


@pytest.mark.parametrize(
    "change, expect",
    [
        (
            lambda s: s["policy"].pop("layers.1.bias"),
            "policy: missing layers.1.bias",
        ),
        (
            lambda s: s["policy"].__setitem__("layers.0.weight", torch.zeros(3, 2)),
            "policy.layers.0.weight: expected shape [8, 2] float32, found shape [3, 2] float32",
        ),
        (
            lambda s: s["policy"].__setitem__("extra", torch.zeros(1)),
            "policy: unexpected extra",
        ),
        (
            lambda s: s["rng"].__setitem__("torch", [1, 2, 3]),
            "rng.torch: expected a tensor, found a sequence of 3",
        ),
        (
            lambda s: s["rng"]["sampler"].__setitem__("env_resets", "many"),
            "rng.sampler.env_resets: expected 0 (int), found 'many' (str)",
        ),
        (
            lambda s: s["config"]["policy"].__setitem__("hidden_sizes", [16]),
            "config.policy: expected {'hidden_sizes': [8]",
        ),
        (
            lambda s: s.__setitem__("iteration", "2"),
            "its iteration should be a count >= 0, found '2' (str)",
        ),
    ],
    ids=[
        "missing-key",
        "wrong-shape",
        "unexpected-key",
        "wrong-type",
        "wrong-scalar",
        "other-config",
        "iteration-not-a-number",
    ],
)
def test_a_checkpoint_with_the_wrong_contents_is_refused_before_restoring(
    change, expect, run_copy, capsys
):
    tamper(run_copy, change)
    before = snapshot(run_copy, lock=False)
    code, _, err = cli(["--resume", str(run_copy), "--iterations", "4"], capsys)
    assert code == 2 and err.startswith("error: "), err
    assert expect in err
    assert snapshot(run_copy, lock=False) == before


def test_a_checkpoint_from_before_a_policy_option_existed_resumes(run_copy, capsys):
    """A checkpoint written before policy.init and policy.min_std existed records no such keys:
    they take their defaults (the behaviour it was trained with) and the run resumes."""

    def older(state):
        for key in ("init", "min_std"):
            state["config"]["policy"].pop(key)

    tamper(run_copy, older)
    config = run_copy / "config.yaml"
    text = config.read_text()
    lines = text.splitlines(True)
    config.write_text("".join(x for x in lines if not x.strip().startswith(("init:", "min_std:"))))
    code, _, err = cli(["--resume", str(run_copy), "--iterations", "3"], capsys)
    assert code == 0, err
    assert_history(run_copy, 3)


def test_evaluation_refuses_a_checkpoint_of_another_policy(run_copy, capsys):
    tamper(run_copy, lambda s: s["policy"].__setitem__("layers.0.weight", torch.zeros(3, 2)))
    assert evaluate.main([str(run_copy), "--device", "cpu"]) == 2
    err = capsys.readouterr().err
    assert "does not fit the policy of its run's config.yaml" in err
    assert "expected shape [8, 2] float32, found shape [3, 2] float32" in err
    assert not (run_copy / "eval").exists()


def refuse_writes(monkeypatch, under: Path, code: int, allow: tuple[str, ...] = ()) -> None:
    """Opening any file under `under` for writing fails with `code`, as on a read-only mount."""
    real_open = os.open
    writing = os.O_WRONLY | os.O_RDWR | os.O_CREAT

    def fake_open(path, flags, mode=0o777, *, dir_fd=None):
        target = Path(os.path.abspath(path))
        if flags & writing and target.is_relative_to(under) and target.name not in allow:
            raise OSError(code, os.strerror(code), str(path))
        return real_open(path, flags, mode, dir_fd=dir_fd)

    monkeypatch.setattr(os, "open", fake_open)


@pytest.mark.parametrize(
    "code, allow, expect",
    [
        (errno.EROFS, (), (".lock': Read-only file system.", "Nothing of the run was changed.")),
        (errno.EACCES, (".lock",), ("': Permission denied.", "Nothing was written for the run")),
    ],
    ids=["read-only-mount", "directory-not-writable"],
)
def test_a_read_only_run_is_refused_before_training(
    code, allow, expect, run_copy, monkeypatch, capsys
):
    before = snapshot(run_copy, lock=False)
    refuse_writes(monkeypatch, run_copy, code, allow)
    code, _, err = cli(["--resume", str(run_copy), "--iterations", "4"], capsys)
    assert code == 2 and err.startswith("error: "), err
    assert all(text in err for text in expect), err
    assert "Make the directory writable (chmod -R u+w)" in err
    monkeypatch.undo()
    assert snapshot(run_copy, lock=False) == before


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only directories")
def test_a_chmod_read_only_run_is_refused(run_copy, capsys):
    for path in [run_copy, *run_copy.rglob("*")]:
        path.chmod(path.stat().st_mode & ~0o222)
    try:
        code, _, err = cli(["--resume", str(run_copy), "--iterations", "4"], capsys)
    finally:
        for path in [run_copy, *run_copy.rglob("*")]:
            path.chmod(path.stat().st_mode | 0o200)
    assert code == 2 and "Permission denied" in err and "Make the directory writable" in err, err


def test_a_full_disk_is_refused_before_training(run_copy, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(storage, "free_bytes", lambda path: 1000)
    code, _, err = cli(fresh(tmp_path), capsys)
    assert code == 2 and "has 1000 B free, and the new run needs at least" in err, err
    assert run_dirs(tmp_path) == []  # the directory it had made is gone
    before = snapshot(run_copy, lock=False)
    code, _, err = cli(["--resume", str(run_copy), "--iterations", "4"], capsys)
    assert code == 2 and f"has 1000 B free, and resuming '{run_copy}' needs" in err, err
    assert snapshot(run_copy, lock=False) == before


def test_resume_on_a_full_disk_leaves_no_empty_event_file(run_copy):
    """ulimit -f 0: every write that extends a file fails in the kernel (EFBIG), as on a full
    disk; the run is refused before it opens an event file or rewrites config.yaml."""
    before = snapshot(run_copy, lock=False)
    out = subprocess.run(
        [
            sys.executable,
            "-B",
            str(ROOT / "train.py"),
            "--resume",
            str(run_copy),
            "--iterations",
            "4",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_FSIZE, (0, 0)),
    )
    assert out.returncode == 2, out.stderr
    assert out.stderr.startswith("error: ") and "Traceback" not in out.stderr
    assert "File too large" in out.stderr and "Nothing was written" in out.stderr
    assert snapshot(run_copy, lock=False) == before  # no 0-byte events file, config.yaml intact


def test_a_disk_that_fills_up_during_the_run_stops_it_with_the_newest_checkpoint(tmp_path):
    """ulimit -f 40000: checkpoints (about 23 KB) still fit, the event file outgrows it after a
    few dozen iterations and TensorBoard's writer thread fails."""
    out = subprocess.run(
        [
            sys.executable,
            "-B",  # Python's own bytecode writes would be cut short by the limit
            str(ROOT / "train.py"),
            *fresh(tmp_path, "log.checkpoint_every=10", "log.print_every=100", iterations=400),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_FSIZE, (40000, 40000)),
    )
    assert out.returncode == 2, out.stderr
    assert "Traceback" not in out.stderr
    last = out.stderr.strip().splitlines()[-1]
    assert last.startswith("error: Cannot write ") and "File too large" in last, last
    (run_dir,) = run_dirs(tmp_path)
    newest = checkpoint.latest(run_dir)
    assert f"The run stopped; the newest checkpoint is '{newest}'" in last
    assert checkpoint.load(newest)["iteration"] % 10 == 0


def test_config_yaml_is_replaced_atomically_on_resume(run_copy, monkeypatch, capsys):
    real_file = storage.atomic_file
    original = (run_copy / "config.yaml").read_text()

    @contextlib.contextmanager
    def failing(path, mode="w"):
        with real_file(path, mode) as f:
            yield f
            if Path(path).name == "config.yaml":  # half of the new file is written
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))

    monkeypatch.setattr(storage, "atomic_file", failing)
    code, _, err = cli(["--resume", str(run_copy), "--iterations", "4"], capsys)
    assert code == 2 and "No space left on device" in err, err
    assert (run_copy / "config.yaml").read_text() == original
    assert not list(run_copy.glob(".*.tmp"))


def test_a_batch_too_large_for_memory_is_refused_before_the_run_dir_exists(tmp_path, capsys):
    argv = fresh(tmp_path, "sampler.meta_batch_size=100000", "sampler.episodes_per_task=1000")
    code, _, err = cli(argv, capsys)
    assert code == 2 and err.startswith("error: The configured batch needs about "), err
    assert "100000 tasks x 1000 episodes x 10 steps" in err
    assert "lower one of them (--set sampler.meta_batch_size=" in err
    assert not (tmp_path / "runs").exists()


def test_running_out_of_memory_later_names_the_knobs(tmp_path, monkeypatch, capsys):
    real = MetaLearner.iterate
    calls = {"n": 0}

    def iterate(self, tasks):
        calls["n"] += 1
        if calls["n"] == 4:
            raise RuntimeError(
                "[enforce fail at alloc_cpu.cpp:118] data. DefaultCPUAllocator: can't allocate "
                "memory: you tried to allocate 1024 bytes. Error code 12"
            )
        return real(self, tasks)

    monkeypatch.setattr(MetaLearner, "iterate", iterate)
    code, _, err = cli(fresh(tmp_path), capsys)
    assert code == 2 and err.startswith("error: Out of memory on cpu"), err
    assert "sampler.meta_batch_size" in err and "iter_000003.pt' (iteration 3)" in err


def test_an_empty_env_name_lists_the_choices(tmp_path, capsys):
    code, _, err = cli([*fresh(tmp_path)[:2], "--env", "", *fresh(tmp_path)[2:]], capsys)
    assert code == 2 and err.startswith("error: Unknown env ''. Valid choices: "), err
    assert "point-goal" in err
