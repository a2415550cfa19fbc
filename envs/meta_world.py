"""Meta-World's meta-learning benchmarks as task families: ML1 (one manipulation task, its goals
split into train and test) and ML10 (10 training task classes, 5 held-out test classes).

Yu et al. 2019, "Meta-World: A Benchmark and Evaluation for Multi-Task and Meta Reinforcement
Learning". A Sawyer arm; 39-dim observations (hand, gripper, object poses, the previous frame; the
goal is hidden in the ML benchmarks); 4-dim actions in [-1, 1] (hand displacement, gripper);
reward in [0, 10]; `info["success"]` when the object (or hand) is within the task's tolerance of
the goal. Episodes last 500 steps (Meta-World's max_path_length). An episode counts as a success
if `info["success"]` is true at any of its steps (the benchmark's success rate).

| family          | training tasks                        | held-out tasks (evaluation)          |
|-----------------|---------------------------------------|--------------------------------------|
| ml1/<task>      | the task's 50 train goals             | its 50 test goals (another seed)     |
| ml10            | 10 classes x 50 goals                 | 5 other classes x 50 goals           |

`sample_tasks(n, rng)` draws from the train split, `held_out_tasks(n, rng)` from the test split,
metarl.evaluate adapts on the latter. Task i of a batch belongs to class i mod C (C classes in the
split), so that a sub-env of the batched sampler (which always runs task i // episodes) keeps its
class from batch to batch and builds that class's simulation once. The goals of a class are drawn
without replacement while a batch needs at most 50 of them.

Needs the [metaworld] extra: pip install "metarl[metaworld]".
"""

from __future__ import annotations

import functools
from typing import Any

import gymnasium as gym
import numpy as np

from metarl.errors import EnvError

HORIZON = 500
"""Meta-World's max_path_length: its envs truncate the episode at this step."""
BENCHMARK_SEED = 0
"""Seed of the benchmark's goals: every run (and every evaluation) sees the same train and test
tasks. ML1 draws its test goals from seed + 1."""
EXTRA = 'pip install "metarl[metaworld]"'

Task = Any  # metaworld.types.Task: (env_name, pickled goal and settings)


def _metaworld() -> Any:
    try:
        import metaworld
    except OSError as err:  # import mujoco failed: a mujoco 4 install downgraded by pip
        raise EnvError(
            f"Importing metaworld failed while loading MuJoCo: {err}. The MuJoCo install is "
            "broken, most likely a mujoco 4 downgraded to Meta-World's 3.3.0 by pip, which leaves "
            "mujoco-core and mujoco-studio 4 behind. Fix: pip uninstall -y mujoco mujoco-core "
            f"mujoco-studio, then {EXTRA}."
        ) from err
    except ImportError as err:
        missing = getattr(err, "name", None) or "metaworld"
        what = "is not installed" if missing == "metaworld" else f"needs '{missing}', missing"
        raise EnvError(
            f"The Meta-World families (ml1/<task>, ml10) need the metaworld package, which "
            f"{what} ({err}). Install metarl[metaworld]: {EXTRA}"
        ) from err
    return metaworld


def task_names() -> list[str]:
    """The Meta-World tasks ml1/<task> accepts (reach-v3, push-v3, pick-place-v3, ...)."""
    return sorted(_metaworld().ML1.ENV_NAMES)


@functools.cache
def benchmark(name: str, task: str | None = None) -> Any:
    """metaworld.ML1(task) or metaworld.ML10(), built once per process (building one resets every
    goal's env, about a second per class)."""
    metaworld = _metaworld()
    if name == "ML1":
        return metaworld.ML1(task, seed=BENCHMARK_SEED)
    return getattr(metaworld, name)(seed=BENCHMARK_SEED)


class MetaWorldTaskEnv(gym.Env):
    """One sub-env of a Meta-World family: the simulation of the class of the task set last.

    The Sawyer envs of the benchmark (one per task class, built when a task of that class is first
    set) share their spaces; step and reset go to the current one.
    """

    metadata = {"render_modes": []}

    def __init__(self, benchmark_name: str = "ML1", task: str | None = "reach-v3") -> None:
        self.benchmark_name, self.task_name = benchmark_name, task
        classes = _classes(benchmark_name, task)
        self._classes = classes
        self._envs: dict[str, gym.Env] = {}
        first = next(iter(classes["train"]))
        self._env = self._env_of(first)
        self.observation_space = self._env.observation_space
        self.action_space = self._env.action_space
        self.max_path_length = HORIZON
        self._task: Task | None = None

    def _env_of(self, class_name: str) -> gym.Env:
        if class_name not in self._envs:
            cls = self._classes["train"].get(class_name) or self._classes["test"][class_name]
            self._envs[class_name] = cls()
        return self._envs[class_name]

    # --- the task-family protocol ------------------------------------------------------------
    def sample_tasks(self, n: int, rng: np.random.Generator) -> list[Task]:
        """n tasks of the training split; task i of class i mod (number of train classes)."""
        return _draw(self._tasks("train"), n, rng)

    def held_out_tasks(self, n: int, rng: np.random.Generator) -> list[Task]:
        """n tasks of the test split (goals, or for ML10 classes, never trained on)."""
        return _draw(self._tasks("test"), n, rng)

    def set_task(self, task: Task) -> None:
        env = self._env_of(task.env_name)
        env.set_task(task)
        self._env = env
        self._task = task

    def get_task(self) -> Task:
        return self._task

    def _tasks(self, split: str) -> list[Task]:
        bench = benchmark(self.benchmark_name, self.task_name)
        return bench.train_tasks if split == "train" else bench.test_tasks

    # --- the Gymnasium API -------------------------------------------------------------------
    def reset(
        self, *, seed: int | None = None, options: dict | None = None
    ) -> tuple[np.ndarray, dict]:
        super().reset(seed=seed)
        # Meta-World's reset ignores the seed: with the task's goal fixed, it is deterministic.
        return self._env.reset(seed=seed, options=options)

    def step(self, action: np.ndarray) -> tuple[np.ndarray, float, bool, bool, dict]:
        return self._env.step(action)

    def close(self) -> None:
        for env in self._envs.values():
            env.close()


def _classes(benchmark_name: str, task: str | None) -> dict[str, dict[str, type]]:
    """The task classes of each split, without building the benchmark's goals."""
    _metaworld()  # the error naming the extra, if it is missing
    from metaworld import env_dict

    if benchmark_name == "ML1":
        cls = env_dict.ALL_V3_ENVIRONMENTS[task]
        return {"train": {task: cls}, "test": {task: cls}}
    split = getattr(env_dict, f"{benchmark_name}_V3")
    return {"train": dict(split["train"]), "test": dict(split["test"])}


def _draw(tasks: list[Task], n: int, rng: np.random.Generator) -> list[Task]:
    """n tasks: task i of class i mod C, its goal drawn uniformly from that class's goals, without
    replacement while there are enough."""
    by_class: dict[str, list[Task]] = {}
    for task in tasks:
        by_class.setdefault(task.env_name, []).append(task)
    names = list(by_class)
    counts = [len(range(c, n, len(names))) for c in range(len(names))]
    picks = {
        name: rng.choice(len(by_class[name]), size=k, replace=k > len(by_class[name]))
        for name, k in zip(names, counts)
    }
    drawn = []
    for i in range(n):
        name = names[i % len(names)]
        drawn.append(by_class[name][int(picks[name][i // len(names)])])
    return drawn
