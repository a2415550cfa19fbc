"""The env checker: every broken family of tests/broken_families.py is caught with its fix."""

from __future__ import annotations

import inspect
import re
import subprocess
import sys
import warnings
from pathlib import Path

import gymnasium as gym
import pytest

from metarl.check_env import EnvCheckWarning, Report, check_family
from metarl.check_env import main as check_env_main
from metarl.errors import EnvError
from metarl.tasks import TaskFamily, make_family
from tests import broken_families as bf

ROOT = Path(__file__).resolve().parent.parent
MODULE = "tests.broken_families"
FAMILIES = [
    cls
    for name, cls in vars(bf).items()
    if inspect.isclass(cls) and cls.__module__ == bf.__name__ and not name.startswith("_")
]


def family_of(cls: type) -> TaskFamily:
    return TaskFamily(name=f"{MODULE}:{cls.__name__}", make_env=cls, horizon=10)


def check(cls: type) -> Report:
    return check_family(family_of(cls), raise_on_error=False)


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, *args], capture_output=True, text=True, timeout=120, cwd=ROOT
    )


@pytest.mark.parametrize("cls", [bf.ValidFamily, bf.DiscreteFamily, bf.LegacyFamily])
def test_valid_and_legacy_families_pass_clean(cls):
    report = check(cls)
    assert report.errors == [] and report.warnings == [], report.text()
    assert report.text() == "OK"
    assert "is a usable task family" in report.summary()


@pytest.mark.parametrize("name", ["point-goal", "bandit"])
def test_builtin_families_pass_clean(name):
    report = check_family(make_family(name))
    assert report.ok and report.warnings == [], report.text()


# (family, the problem, the fix): each pattern must appear in the one finding about it.
ERRORS = [
    (
        bf.NoSetTask,
        r"NoSetTask\.set_task: expected a method set_task\(task\).*set_tasks",
        r"add `def set_task\(self, task\)",
    ),
    (
        bf.NoSampleTasks,
        r"sample_tasks: expected a method sample_tasks\(n, rng\).*no such method",
        r"add `def sample_tasks\(self, n, rng\)",
    ),
    (
        bf.SampleTasksBadSignature,
        r"got sample_tasks\(n, rng, difficulty\).*missing a required argument: 'difficulty'",
        r"give any other parameter a default",
    ),
    (
        bf.SetTaskNoArgument,
        r"expected a method callable as set_task\(task\), got set_task\(\)",
        r"use `def set_task\(self, task\)`",
    ),
    (
        bf.SampleTasksReturnsNone,
        r"sample_tasks\(3, rng\): expected a list of 3 tasks, got None.*missing return",
        r"return a list",
    ),
    (bf.SampleTasksWrongCount, r"expected exactly 3 tasks, got 4", r"one task per requested task"),
    (
        bf.UnpicklableTasks,
        r"expected a picklable task.*<lambda>.*pickling it failed with",
        r"keep only plain data in tasks",
    ),
    (
        bf.SetTaskRaises,
        r"set_task\(task\) raised KeyError: 'target_velocity' "
        r"\(at .*broken_families\.py:\d+, in set_task\)",
        r"accept every task sample_tasks returns",
    ),
    (
        bf.WrongObsShape,
        r"reset\(\) observation: expected shape \(2,\).*got shape \(3,\)",
        r"make the observation and observation_space agree",
    ),
    (
        bf.NonFiniteObs,
        r"step\(\) at t=0 observation: expected finite numbers.*nan",
        r"guard the computation",
    ),
    (
        bf.InfiniteActionBounds,
        r"action_space: expected finite bounds.*low=\[-inf -inf\]",
        r"give the real limits",
    ),
    (
        bf.MultiDiscreteActions,
        r"action_space: expected a gymnasium\.spaces\.Box .* or a Discrete\(n\).*MultiDiscrete",
        r"gymnasium\.spaces\.Discrete\(n\)",
    ),
    (
        bf.DictObservations,
        r"observation_space: expected a gymnasium\.spaces\.Box \(or Discrete\), got Dict",
        r"FlattenObservation",
    ),
    (
        bf.FourTupleStep,
        r"step\(\): expected the Gymnasium 5-tuple.*got a tuple of 4 values.*gym < 0\.26",
        r"return obs, reward, terminated, truncated, info",
    ),
    (
        bf.InfoNotADict,
        r"step\(\) at t=0 info: expected a dict.*got NoneType None",
        r"return \{\} when there is nothing to report",
    ),
    (
        bf.OldResetAPI,
        r"reset\(\): expected the Gymnasium pair \(obs, info\), got ndarray",
        r"return obs, \{\}",
    ),
    (
        bf.StepRaises,
        r"step\(action\) at t=0 raised RuntimeError: simulation diverged "
        r"\(at .*broken_families\.py:\d+, in step\)",
        r"make step accept any action in the action space",
    ),
    (
        bf.ResetForgetsTask,
        r"expected the task to stay set across reset\(\).*reset\(\) puts the task back",
        r"do not touch the task in reset\(\)",
    ),
    (
        bf.ConstructorRaises,
        r"Creating the env .* raised FileNotFoundError: assets/point\.xml",
        r"make the constructor work without arguments",
    ),
    (
        bf.NotAnEnv,
        r"expected a gymnasium\.Env.*got an instance of NotAnEnv",
        r"subclass gymnasium\.Env",
    ),
]

WARNINGS = [
    (
        bf.TasksChangeNothing,
        r"set_task\(task\): expected different rewards or observations for different tasks"
        r".*almost always a bug",
        r"make step\(\) .* depend on what set_task stored",
    ),
    (
        bf.IdenticalTasks,
        r"expected different tasks.*got 3 equal tasks",
        r"draw each task's parameters from rng",
    ),
    (
        bf.SampleTasksIgnoresRng,
        r"expected the same tasks from two generators with the same seed",
        r"draw every random number from the rng argument",
    ),
    (
        bf.ObsDtypeMismatch,
        r"observation: expected dtype float32.*got dtype float64",
        r"return obs\.astype\(np\.float32\)",
    ),
    (
        bf.Unseeded,
        r"Reproducibility: expected the same observations and rewards",
        r"draw all randomness from self\.np_random",
    ),
]


def _one_finding(findings: list[str], problem: str, fix: str) -> str:
    matching = [f for f in findings if re.search(problem, f)]
    assert matching, f"no finding matches {problem!r}:\n" + "\n".join(findings)
    finding = matching[0]
    assert "Likely cause: " in finding and re.search(f"Fix: .*{fix}", finding), finding
    return finding


@pytest.mark.parametrize("cls, problem, fix", ERRORS, ids=[c.__name__ for c, *_ in ERRORS])
def test_broken_family_is_an_error_naming_problem_and_fix(cls, problem, fix):
    report = check(cls)
    _one_finding(report.errors, problem, fix)
    with pytest.raises(EnvError, match=problem) as raised:
        check_family(family_of(cls))
    assert f"Re-check after fixing: python -m metarl.check_env {MODULE}:{cls.__name__}" in str(
        raised.value
    )


@pytest.mark.parametrize("cls, problem, fix", WARNINGS, ids=[c.__name__ for c, *_ in WARNINGS])
def test_suspicious_family_is_a_warning_naming_problem_and_fix(cls, problem, fix):
    report = check(cls)
    assert report.errors == [], report.text()
    _one_finding(report.warnings, problem, fix)
    # The trainer's mode does not stop, but shows the warning.
    with pytest.warns(EnvCheckWarning, match=problem):
        check_family(family_of(cls))


def test_every_family_is_covered_and_nothing_escapes_as_a_raw_exception():
    covered = {cls for cls, *_ in ERRORS + WARNINGS} | {
        bf.ValidFamily,
        bf.DiscreteFamily,
        bf.LegacyFamily,
    }
    assert set(FAMILIES) == covered
    for cls in FAMILIES:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", EnvCheckWarning)
            try:
                check_family(family_of(cls))
            except EnvError as err:
                assert "Traceback" not in str(err)


def test_exceptions_keep_their_traceback_for_debug():
    report = check(bf.StepRaises)
    assert len(report.tracebacks) == 1
    assert "Traceback" in report.tracebacks[0] and "simulation diverged" in report.tracebacks[0]


def test_task_must_survive_reset_by_get_task():
    class GetTaskSeesReset(bf.ValidFamily):
        def reset(self, *, seed=None, options=None):
            self.task = {"goal": [0.0, 0.0]}
            return super().reset(seed=seed, options=options)

    report = check(GetTaskSeesReset)
    _one_finding(
        report.errors, r"get_task\(\) after set_task\(task\) and reset\(\)", "only set_task"
    )


def test_task_must_behave_the_same_after_another_episode():
    class TaskDriftsPerEpisode(bf.ValidFamily):
        def reset(self, *, seed=None, options=None):
            self.goal = self.goal + 0.1  # each episode moves the goal
            return super().reset(seed=seed, options=options)

        def get_task(self):
            return self.task

    report = check(TaskDriftsPerEpisode)
    _one_finding(report.errors, r"then an episode and reset\(\): expected the same first steps", "")


def test_task_must_behave_the_same_on_another_instance():
    class InstanceOffset(bf.ValidFamily):
        instances = 0

        def __init__(self):
            super().__init__()
            InstanceOffset.instances += 1
            self.offset = InstanceOffset.instances  # each copy of the env differs

        def step(self, action):
            obs, reward, terminated, truncated, info = super().step(action)
            return obs, reward + self.offset, terminated, truncated, info

    report = check(InstanceOffset)
    _one_finding(report.errors, r"A task on another instance of the env", "self-contained")


def test_check_env_cli_reports_errors_and_exits_1():
    out = run("-m", "metarl.check_env", f"{MODULE}:FourTupleStep")
    assert out.returncode == 1, out.stdout + out.stderr
    assert "ERROR: step(): expected the Gymnasium 5-tuple" in out.stdout
    assert "Fix: return obs, reward, terminated, truncated, info" in out.stdout
    assert "1 error, 0 warnings" in out.stdout
    assert "Traceback" not in out.stdout + out.stderr


def test_check_env_main_exit_codes(capsys):
    assert check_env_main([f"{MODULE}:ValidFamily"]) == 0
    out = capsys.readouterr().out
    assert "OK" in out and "is a usable task family" in out
    assert check_env_main([f"{MODULE}:TasksChangeNothing"]) == 0
    assert "WARNING: set_task(task)" in capsys.readouterr().out
    assert check_env_main([f"{MODULE}:TasksChangeNothing", "--strict"]) == 1
    capsys.readouterr()
    assert check_env_main([f"{MODULE}:NoSuchFamily"]) == 2
    assert "has no class or function 'NoSuchFamily'" in capsys.readouterr().err


def test_check_env_main_env_that_cannot_be_built_exits_2_without_traceback(capsys):
    assert check_env_main([f"{MODULE}:ConstructorRaises"]) == 2
    err = capsys.readouterr().err
    assert "raised FileNotFoundError: assets/point.xml" in err
    assert "broken_families.py" in err and "Traceback" not in err
    assert check_env_main([f"{MODULE}:ConstructorRaises", "--debug"]) == 2
    assert "Traceback" in capsys.readouterr().err


def test_check_env_main_debug_prints_the_env_traceback(capsys):
    assert check_env_main([f"{MODULE}:StepRaises", "--debug"]) == 1
    captured = capsys.readouterr()
    assert "raised RuntimeError: simulation diverged" in captured.out
    assert (
        "Traceback" in captured.err and 'raise RuntimeError("simulation diverged")' in captured.err
    )


TINY = [
    "--iterations",
    "1",
    "--device",
    "cpu",
    "--set",
    "sampler.meta_batch_size=2",
    "sampler.episodes_per_task=2",
    "policy.hidden_sizes=[8]",
    "env.horizon=10",
    "eval.at_end=false",
]


def test_trainer_runs_the_checker_before_the_first_rollout(tmp_path):
    out = run("train.py", "--env", f"{MODULE}:FourTupleStep", *TINY, f"log.root={tmp_path}")
    assert out.returncode == 2, out.stdout + out.stderr
    assert "is not a usable task family" in out.stderr
    assert "step(): expected the Gymnasium 5-tuple" in out.stderr
    assert "Traceback" not in out.stderr
    assert not list(tmp_path.rglob("*")), "a run directory was created despite the bad env"


def test_trainer_shows_checker_warnings_and_trains(tmp_path):
    out = run("train.py", "--env", f"{MODULE}:TasksChangeNothing", *TINY, f"log.root={tmp_path}")
    assert out.returncode == 0, out.stderr
    assert "warning: " in out.stderr and "almost always a bug" in out.stderr
    assert "EnvCheckWarning" not in out.stderr  # clean lines, not Python's warning format
    assert list(tmp_path.rglob("final.pt"))


def test_gymnasium_env_without_task_methods_names_both():
    family = TaskFamily(name="Pendulum-v1", make_env=lambda: gym.make("Pendulum-v1"), horizon=10)
    report = check_family(family, raise_on_error=False)
    assert len(report.errors) == 2
    assert all("plain Gymnasium env, not a task family" in e for e in report.errors)
