"""A catalogue of bad train.py command lines: each stops with one paragraph on stderr, no traceback.

Each case runs `python train.py` as a user would (a subprocess from the repository root). It must
exit non-zero, print a message starting with 'error: ' and without blank lines (one paragraph; the
env checker's report is one line per finding) that names what was expected, show no traceback, and
write no checkpoint. tests/test_cli.py holds ten more cases; none is repeated here. Cases marked
xfail are bad inputs the library does not handle well yet: the reason says what happens today.
"""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# Small enough that a bad input that slips through trains for a second, not for minutes.
TINY = [
    "--iterations",
    "1",
    "--device",
    "cpu",
    "--set",
    "sampler.episodes_per_task=2",
    "policy.hidden_sizes=[8]",
    "env.horizon=10",
    "eval.at_end=false",
]


@dataclass(frozen=True)
class Case:
    id: str
    args: tuple[str, ...]
    """Command-line arguments; '{tmp}' stands for the test's tmp_path."""
    expect: tuple[str, ...]
    """Substrings of stderr: the problem and what was expected or the valid choices."""
    files: tuple[tuple[str, str], ...] = ()
    """(path under tmp_path, text) written before the run."""
    resume: bool = False
    """--resume takes neither --set nor the TINY overrides (it would be a different error)."""
    xfail: str | None = None


def _yaml(text: str) -> tuple[tuple[str, str], ...]:
    return (("config.yaml", text),)


CASES = [
    Case(
        "yaml-negative-lr",
        ("--config", "{tmp}/config.yaml"),
        ("Config key 'inner.lr' must be > 0, got -0.1",),
        files=_yaml("inner:\n  lr: -0.1\n"),
    ),
    Case(
        "yaml-zero-tasks",
        ("--config", "{tmp}/config.yaml"),
        ("Config key 'sampler.meta_batch_size' must be > 0, got 0",),
        files=_yaml("sampler:\n  meta_batch_size: 0\n"),
    ),
    Case(
        "yaml-wrong-type",
        ("--config", "{tmp}/config.yaml"),
        (
            "Config key 'sampler.episodes_per_task' expects an integer, got 'many' (str)",
            "Fix the value in the YAML file",
        ),
        files=_yaml("sampler:\n  episodes_per_task: many\n"),
    ),
    Case(
        "yaml-is-a-list",
        ("--config", "{tmp}/config.yaml"),
        ("config.yaml' must hold a mapping of keys, got list",),
        files=_yaml("- inner.lr=0.1\n- outer.lr=0.1\n"),
    ),
    Case(
        "config-for-another-env",
        ("--env", "point-goal", "--config", "{tmp}/config.yaml"),
        (
            "is for env 'half-cheetah-vel', but --env is 'point-goal'",
            "Use the config of 'point-goal'",
        ),
        files=_yaml("env:\n  name: half-cheetah-vel\n"),
    ),
    Case(
        "config-for-another-algorithm",
        ("--algo", "reptile", "--config", "configs/maml/point-goal.yaml"),
        ("is for algorithm 'maml', but --algo is 'reptile'", "Use configs/reptile/<env>.yaml"),
    ),
    Case(
        "yaml-nested-unknown-key",
        ("--config", "{tmp}/config.yaml"),
        ("Unknown config key 'outer.max_kll'. Did you mean 'outer.max_kl'?", "Valid keys:"),
        files=_yaml("outer:\n  max_kll: 0.01\n"),
    ),
    Case(
        "yaml-algorithm-typo",
        ("--config", "{tmp}/config.yaml"),
        (
            "Unknown algorithm 'reptil'. Did you mean 'reptile'?",
            "maml, meta-lstm, meta-sgd, reptile",
        ),
        files=_yaml("algo: reptil\n"),
    ),
    Case(
        "resume-not-a-run-dir",
        ("--resume", "{tmp}"),
        ("is not a metarl run directory: it has no config.yaml", "Pass the directory"),
        resume=True,
    ),
    Case(
        "resume-with-set",
        ("--resume", "{tmp}", "--set", "inner.lr=0.05"),
        ("--set cannot be combined with it", "only --iterations and --device can"),
        resume=True,
    ),
    Case(
        "resume-run-without-checkpoint",
        ("--resume", "{tmp}/run"),
        ("No checkpoint in", "saved at least one checkpoint"),
        files=(("run/config.yaml", "algo: maml\n"),),
        resume=True,
    ),
    Case(
        "import-missing-module",
        ("--import", "nosuchmodule_xyz"),
        ("Could not import 'nosuchmodule_xyz'", "No module named 'nosuchmodule_xyz'"),
    ),
    Case(
        "env-module-lacks-class",
        ("--env", "metarl.envs.point_goal:NoSuchEnv"),
        ("Module 'metarl.envs.point_goal' has no class or function 'NoSuchEnv'",),
    ),
    Case(
        "env-not-a-gymnasium-env",
        ("--env", "collections:OrderedDict"),
        ("expected a gymnasium.Env", "got an instance of OrderedDict"),
    ),
    Case(
        "env-gymnasium-id-not-a-task-family",
        ("--env", "Pendulum-v1"),
        ("Pendulum-v1 is not a usable task family", "sample_tasks(n, rng)", "set_task(task)"),
    ),
    Case(
        "unknown-policy-activation",
        ("--set", "policy.activation=gelu"),
        ("Unknown policy.activation 'gelu'. Did you mean 'relu'? Valid choices: relu, tanh.",),
    ),
    Case(
        "reptile-with-trpo",
        ("--algo", "reptile", "--set", "outer.optimizer=trpo"),
        ("Unknown outer.optimizer for reptile 'trpo'", "Valid choices: adam, sgd."),
    ),
    Case(
        "step-size-clamp-min-above-max",
        ("--algo", "meta-sgd", "--set", "inner.step_size_clamp=[1.0,0.1]"),
        ("'inner.step_size_clamp' expects [min, max] with min <= max, got [1.0, 0.1]",),
    ),
    Case(
        "eval-steps-negative",
        ("--set", "eval.steps=-1"),
        ("Config key 'eval.steps' must be >= 0, got -1",),
    ),
    Case(
        "log-root-under-a-file",
        ("--set", "log.root={tmp}/a_file/runs"),
        ("Cannot create the run directory", "Not a directory", "Set log.root to a writable"),
        files=(("a_file", "not a directory\n"),),
    ),
    Case(
        "env-constructor-raises",
        ("--env", "tests.broken_families:ConstructorRaises"),
        ("FileNotFoundError: assets/point.xml",),
    ),
    Case(
        "seed-negative",
        ("--seed", "-1"),
        ("seed",),
    ),
    Case(
        "lr-not-finite",
        ("--set", "inner.lr=.nan"),
        ("inner.lr",),
    ),
    Case(
        "later-lr-scale-negative",
        ("--set", "eval.later_lr_scale=-1"),
        ("eval.later_lr_scale",),
    ),
    Case(
        "yaml-section-given-a-value",
        ("--config", "{tmp}/config.yaml"),
        ("Config key 'inner' is a section",),
        files=_yaml("inner: 0.1\n"),
    ),
    Case(
        "config-is-a-directory",
        ("--config", "{tmp}"),
        ("is a directory",),
    ),
    Case(
        "yaml-syntax-error",
        ("--config", "{tmp}/config.yaml"),
        ("is not valid YAML", "line 1"),
        files=_yaml("inner: [1\n"),
    ),
    Case(
        "resume-corrupt-checkpoint",
        ("--resume", "{tmp}/run"),
        ("cannot be loaded safely", "use another checkpoint of the run"),
        files=(
            ("run/config.yaml", "algo: maml\n"),
            ("run/checkpoints/iter_000010.pt", "garbage\n"),
        ),
        resume=True,
    ),
    Case(
        "resume-config-not-a-mapping",
        ("--resume", "{tmp}/run"),
        ("config.yaml",),
        files=(("run/config.yaml", "- 1\n"),),
        resume=True,
    ),
]


def train(args: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(ROOT / "train.py"), *args],
        capture_output=True,
        text=True,
        timeout=180,
        cwd=ROOT,
    )


def command(case: Case, tmp_path: Path) -> list[str]:
    args = [a.replace("{tmp}", str(tmp_path)) for a in case.args]
    if case.resume:
        return args
    return [*TINY, f"log.root={tmp_path / 'runs'}", *args]


def _param(case: Case):
    marks = [pytest.mark.xfail(strict=True, reason=case.xfail)] if case.xfail else []
    return pytest.param(case, id=case.id, marks=marks)


def test_catalogue_has_no_duplicates():
    assert len({c.id for c in CASES}) == len(CASES)
    assert len({c.args + c.files for c in CASES}) == len(CASES)
    assert sum(c.xfail is None for c in CASES) >= 15


@pytest.mark.parametrize("case", [_param(c) for c in CASES])
def test_bad_command_line_stops_with_one_paragraph(case, tmp_path):
    for name, text in case.files:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    before = set(tmp_path.rglob("*.pt"))
    out = train(command(case, tmp_path))
    err = out.stderr.strip()
    assert out.returncode != 0, f"exit 0 for bad input:\n{out.stdout}\n{err}"
    assert "Traceback" not in err, err
    assert err.startswith("error: "), err
    assert all(line.strip() for line in err.splitlines()), f"not one paragraph:\n{err}"
    for text in case.expect:
        assert text in err, f"{text!r} not in:\n{err}"
    assert set(tmp_path.rglob("*.pt")) == before, "a checkpoint was written despite bad input"


def test_debug_shows_the_traceback_and_still_fails(tmp_path):
    out = train([*TINY, f"log.root={tmp_path}", "policy.activation=gelu", "--debug"])
    assert out.returncode != 0
    assert "Traceback (most recent call last)" in out.stderr
    assert "ConfigError: Unknown policy.activation 'gelu'" in out.stderr
    assert not list(tmp_path.rglob("*.pt"))


def test_a_background_threads_warning_is_one_write_so_lines_cannot_interleave(monkeypatch):
    """print() writes a message and its newline apart: the main thread's error could land between
    a writer thread's warning and its newline, and the two would share one line."""
    import threading

    from metarl import cli

    class Recorder:
        def __init__(self) -> None:
            self.writes: list[str] = []

        def write(self, text: str) -> int:
            self.writes.append(text)
            return len(text)

        def flush(self) -> None:
            pass

    stderr = Recorder()
    monkeypatch.setattr(sys, "stderr", stderr)
    try:
        raise OSError(27, "File too large")
    except OSError as err:
        hook = threading.ExceptHookArgs(
            (type(err), err, err.__traceback__, threading.current_thread())
        )
    cli._thread_error(hook)
    cli._say("error: Cannot write 'RUN_DIR': File too large.")
    assert stderr.writes == [
        f"warning: background thread {threading.current_thread().name}: OSError: "
        "[Errno 27] File too large\n",
        "error: Cannot write 'RUN_DIR': File too large.\n",
    ]
