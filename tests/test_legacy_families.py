"""Task families written for other libraries run unchanged: old-gym envs (tests/old_gym_tasks.py)
through all three ways in, task methods on a wrapper (tests/task_wrappers.py), legacy
`sample_tasks(n)` drawing from the env's own np_random, and the errors around them."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import gymnasium
import numpy as np
import pytest

from metarl import register
from metarl.check_env import check_family
from metarl.cli import CONFIGS_DIR
from metarl.config import build_config
from metarl.errors import ConfigError, EnvError
from metarl.tasks import FAMILIES, make_family
from metarl.trainer import train
from tests.test_resume import scalars

ROOT = Path(__file__).resolve().parent.parent
HAS_OLD_GYM = all(importlib.util.find_spec(m) is not None for m in ("gym", "shimmy"))
needs_gym = pytest.mark.skipif(not HAS_OLD_GYM, reason='needs pip install "metarl[gym]"')
TINY = [
    "iterations=2",
    "sampler.meta_batch_size=2",
    "sampler.episodes_per_task=3",
    "policy.hidden_sizes=[8]",
    "eval.at_end=false",
]
WINDY = "tests.old_gym_tasks:WindyGoalEnv"


def tasks_twice(family, n=4, seed=3):
    return [family.sample_tasks(n, np.random.default_rng(seed)) for _ in range(2)]


def same_tasks(a, b) -> bool:
    return all(
        all(np.array_equal(np.asarray(x[k]), np.asarray(y[k])) for k in x) for x, y in zip(a, b)
    )


@needs_gym
@pytest.mark.parametrize("spec", [WINDY, "tests.old_gym_tasks:DriftingTargetEnv"])
def test_old_gym_class_is_converted_and_passes_the_checker(spec):
    family = make_family(spec)
    assert isinstance(family.prototype, gymnasium.Env)
    assert "old gym API" in family.notes[0] and "shimmy" in family.notes[0]
    report = check_family(family, raise_on_error=False)
    assert report.ok and not report.warnings, report.text()
    assert report.text().startswith("NOTE: ") and "metarl[gym]" in report.text()


@needs_gym
def test_horizon_comes_from_the_old_registry_or_the_env():
    assert make_family(WINDY).horizon == 25  # only the old registration declares it
    assert make_family("tests.old_gym_tasks:DriftingTargetEnv").horizon == 30  # max_path_length
    assert make_family(WINDY, horizon=7).horizon == 7  # the user's choice wins


@needs_gym
def test_old_registry_id_resolves_after_import():
    family = make_family("LegacyWindyGoal-v0", imports=["tests.old_gym_tasks"])
    assert family.horizon == 25 and "old gym API" in family.notes[0]
    assert family.imports == ("metarl.envs", "tests.old_gym_tasks")
    assert check_family(family, raise_on_error=False).ok


@needs_gym
@pytest.mark.parametrize("target", [WINDY, "LegacyWindyGoal-v0"])
def test_register_accepts_an_old_class_or_an_old_id(target):
    import tests.old_gym_tasks  # noqa: F401  (the old registration)

    register("legacy-windy-test", target)
    try:
        family = make_family("legacy-windy-test")
        assert family.horizon == 25 and family.name == "legacy-windy-test"
    finally:
        FAMILIES.pop("legacy-windy-test")


@needs_gym
@pytest.mark.parametrize("spec", [WINDY, "tests.old_gym_tasks:DriftingTargetEnv"])
def test_tasks_drawn_from_the_envs_own_rng_follow_the_run_seed(spec):
    first, second = tasks_twice(make_family(spec))
    assert same_tasks(first, second)
    other = make_family(spec).sample_tasks(4, np.random.default_rng(4))
    assert not same_tasks(first, other)


@needs_gym
def test_old_env_noise_follows_the_reset_seed():
    env = make_family(WINDY).make_env()
    env.unwrapped.reset_task({"goal": np.ones(2), "wind": np.zeros(2)})
    runs = []
    for seed in (5, 5, 6):
        obs, info = env.reset(seed=seed)
        steps = [env.step(np.full(2, 0.1, dtype=np.float32)) for _ in range(3)]
        assert info == {} and all(len(s) == 5 for s in steps)
        runs.append(np.concatenate([obs, *[s[0] for s in steps]]))
    assert np.array_equal(runs[0], runs[1]) and not np.array_equal(runs[0], runs[2])


@needs_gym
@pytest.mark.parametrize("workers", [2])  # worker processes: the factory pickles
def test_old_gym_family_trains_and_the_same_seed_gives_identical_scalars(tmp_path, workers):
    def run(name: str) -> dict:
        overrides = [*TINY, f"sampler.num_workers={workers}", f"log.root={tmp_path / name}"]
        return scalars(train(build_config("maml", WINDY, None, overrides, CONFIGS_DIR)))

    a, b = run("a"), run("b")
    assert a == b and len(a["returns/post_adapt"]) == 2
    assert all(np.isfinite(v) for _, v in a["returns/pre_adapt"])


@needs_gym
def test_old_registry_id_trains_from_the_command_line(tmp_path):
    out = subprocess.run(
        [
            sys.executable,
            "train.py",
            "--import",
            "tests.old_gym_tasks",
            "--env",
            "LegacyWindyGoal-v0",
            "--device",
            "cpu",
            "--set",
            *TINY,
            "sampler.num_workers=1",
            f"log.root={tmp_path}",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
    )
    assert out.returncode == 0, out.stderr
    assert "old gym API" in out.stderr and "[2/2]" in out.stdout


def test_task_methods_on_a_wrapper_are_found_and_seeded_by_the_run():
    family = make_family("tests.task_wrappers:make_wrapped", horizon=20)
    first, second = tasks_twice(family)
    assert first == second and len(set(first)) == 4
    report = check_family(family, raise_on_error=False)
    assert report.ok and not report.warnings, report.text()


def test_wrapper_family_trains(tmp_path):
    overrides = [*TINY, "sampler.num_workers=0", "env.horizon=20", f"log.root={tmp_path}"]
    cfg = build_config("maml", "tests.task_wrappers:make_wrapped", None, overrides, CONFIGS_DIR)
    assert "returns/post_adapt" in scalars(train(cfg))


def test_missing_shimmy_names_the_extra(monkeypatch):
    pytest.importorskip("gym")
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "shimmy" else real(name, *a)
    )
    with pytest.raises(EnvError, match=r"old gym API.*shimmy.*not installed.*metarl\[gym\]"):
        make_family(WINDY)


def test_missing_dependency_is_not_a_missing_module(tmp_path, monkeypatch):
    (tmp_path / "needs_old_gym.py").write_text("import gym\n\nclass Env(gym.Env):\n    pass\n")
    (tmp_path / "needs_other.py").write_text("import nosuchdep_xyz\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setitem(sys.modules, "gym", None)  # as if gym were not installed
    with pytest.raises(EnvError, match=r"a module it imports, 'gym', is not installed") as err:
        make_family("needs_old_gym:Env")
    assert "metarl[gym]" in str(err.value) and "PYTHONPATH" not in str(err.value)
    with pytest.raises(EnvError, match=r"'nosuchdep_xyz', is not installed.*missing dependency"):
        make_family("x", imports=["needs_other"])
    with pytest.raises(EnvError, match=r"No module named 'nosuchmod_xyz'.*PYTHONPATH"):
        make_family("nosuchmod_xyz:Env")


def test_unknown_id_after_import_does_not_suggest_the_import_again():
    with pytest.raises(ConfigError) as err:
        make_family("NoSuchId-v0", imports=["metarl.envs"])
    message = str(err.value)
    assert "After --import metarl.envs" in message and "add --import" not in message


def test_unknown_id_suggests_only_importable_modules():
    with pytest.raises(ConfigError) as err:
        make_family("Json/NoSuchId-v0")
    assert "add --import json" in str(err.value)
    with pytest.raises(ConfigError) as err:
        make_family("No-Such-Pkg/NoSuchId-v0")
    assert "--import No-Such-Pkg" not in str(err.value) and "--import PACKAGE" in str(err.value)
    with pytest.raises(ConfigError, match=r"Meta-World is built in: --env ml1/<task>"):
        make_family("Meta-World/ML1-train")


def test_registration_without_an_entry_point_is_not_called_a_bug_in_the_env():
    gymnasium.register(id="metarl_test/VectorOnly-v0", vector_entry_point=lambda **kw: None)
    try:
        with pytest.raises(EnvError) as err:
            make_family("metarl_test/VectorOnly-v0")
    finally:
        gymnasium.registry.pop("metarl_test/VectorOnly-v0")
    message = str(err.value)
    assert "without an entry point" in message and "vector_entry_point" in message
    assert "bug" not in message
