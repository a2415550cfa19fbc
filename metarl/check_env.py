"""Env checker for task families: `python -m metarl.check_env <env spec>`, or check_family().

Each finding says what was expected, what came, the likely cause and the fix. Hard violations are
errors (the run cannot work); soft ones are warnings (it may run, but probably not as meant).
"""

from __future__ import annotations

import argparse
import pickle
import sys
from dataclasses import dataclass, field

import gymnasium as gym
import numpy as np

from metarl.errors import EnvError, MetaRLError
from metarl.tasks import TaskFamily, _setter, make_family, sample_tasks_from

PROBE_STEPS = 10


@dataclass
class Report:
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def text(self) -> str:
        lines = [f"ERROR: {e}" for e in self.errors] + [f"WARNING: {w}" for w in self.warnings]
        return "\n".join(lines) or "OK"


def _check_space(space: gym.Space, what: str, report: Report) -> None:
    if isinstance(space, gym.spaces.Discrete):
        return
    if not isinstance(space, gym.spaces.Box):
        report.errors.append(
            f"{what} space: expected Box (or Discrete), got {type(space).__name__}. "
            "Flatten it (gymnasium.wrappers.FlattenObservation) or use a Box."
        )
        return
    if not np.issubdtype(space.dtype, np.floating):
        report.errors.append(f"{what} space: expected a float dtype, got {space.dtype}.")
    if what == "action" and not (
        np.all(np.isfinite(space.low)) and np.all(np.isfinite(space.high))
    ):
        report.errors.append(
            f"action space: expected finite bounds, got low={space.low}, high={space.high}. "
            "Gaussian actions are clipped to these bounds; give the real limits."
        )


def _rollout(env: gym.Env, set_task, task, actions: np.ndarray, seed: int, report: Report):
    set_task(task)
    obs, _ = env.reset(seed=seed)
    observations, rewards = [np.asarray(obs, dtype=np.float64)], []
    space = env.observation_space
    for t, action in enumerate(actions):
        out = env.step(action)
        if not isinstance(out, tuple) or len(out) != 5:
            n = len(out) if isinstance(out, tuple) else type(out).__name__
            report.errors.append(
                f"step() must return the Gymnasium 5-tuple (obs, reward, terminated, truncated, "
                f"info), got {n} values. Likely cause: a gym<0.26 env returning "
                "(obs, reward, done, "
                "info); split done into terminated and truncated."
            )
            return None
        obs, reward, terminated, truncated, _ = out
        obs = np.asarray(obs)
        if obs.shape != space.shape:
            report.errors.append(
                f"step() observation at t={t}: expected shape {space.shape} (the observation "
                f"space), got {obs.shape}. Make the observation match observation_space."
            )
            return None
        if isinstance(space, gym.spaces.Box) and obs.dtype != space.dtype:
            report.warnings.append(
                f"step() observation dtype {obs.dtype} differs from the space's {space.dtype}."
            )
        if not np.isfinite(reward) or not np.all(np.isfinite(obs)):
            report.errors.append(f"step() at t={t} returned a non-finite reward or observation.")
            return None
        observations.append(obs.astype(np.float64))
        rewards.append(float(reward))
        if terminated or truncated:
            break
    return np.concatenate([o.reshape(-1) for o in observations]), np.asarray(rewards)


def check_family(family: TaskFamily, raise_on_error: bool = True) -> Report:
    """Runs every check on `family`; raises EnvError listing all errors (if any) by default."""
    report = Report()
    env = family.make_env()
    name = type(env.unwrapped).__name__
    try:
        set_task = _setter(env)
        tasks = sample_tasks_from(env, 2, np.random.default_rng(0))
    except EnvError as err:
        report.errors.append(str(err))
        return _finish(report, name, raise_on_error)
    _check_space(env.observation_space, "observation", report)
    _check_space(env.action_space, "action", report)
    obs, _ = env.reset(seed=0)
    if np.asarray(obs).shape != env.observation_space.shape:
        report.errors.append(
            f"reset() observation: expected shape {env.observation_space.shape}, got "
            f"{np.asarray(obs).shape}. Make the observation match observation_space."
        )
    try:
        pickle.loads(pickle.dumps(tasks))
    except Exception as err:  # any pickling failure is the same finding
        report.errors.append(
            f"Tasks must be picklable (parallel samplers send them to worker processes); "
            f"pickling a task failed with {type(err).__name__}: {err}. Use plain data "
            "(dicts, numbers, numpy arrays) for tasks, not lambdas, open files or envs."
        )
    if report.errors:
        return _finish(report, name, raise_on_error)
    env.action_space.seed(0)
    actions = np.stack([env.action_space.sample() for _ in range(PROBE_STEPS)])
    first = _rollout(env, set_task, tasks[0], actions, 0, report)
    again = _rollout(env, set_task, tasks[0], actions, 0, report)
    other = _rollout(env, set_task, tasks[1], actions, 0, report)
    if first is not None and again is not None and other is not None:
        if len(first[1]) != len(again[1]) or not (
            np.allclose(first[0], again[0]) and np.allclose(first[1], again[1])
        ):
            report.errors.append(
                "The same task, seed and actions gave different observations or rewards. "
                "Likely cause: randomness not drawn from self.np_random, or a task that changes on "
                "reset(). Seed through reset(seed=...) and keep the task until set_task is called."
            )
        n, m = min(len(first[1]), len(other[1])), min(len(first[0]), len(other[0]))
        if np.allclose(first[1][:n], other[1][:n]) and np.allclose(first[0][:m], other[0][:m]):
            report.warnings.append(
                "Two sampled tasks gave the same rewards and observations for the same actions: "
                "set_task may not change anything (a family whose tasks are all the same is almost "
                "always a bug). Check that set_task stores the task where step() reads it."
            )
    return _finish(report, name, raise_on_error)


def _finish(report: Report, name: str, raise_on_error: bool) -> Report:
    if report.errors and raise_on_error:
        raise EnvError(f"{name} is not a usable task family:\n" + report.text())
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m metarl.check_env", description=__doc__)
    parser.add_argument("env", help="built-in name, 'package.module:Class' or a Gymnasium id")
    parser.add_argument(
        "--horizon",
        type=int,
        default=None,
        help="episode length, for envs without a Gymnasium registration",
    )
    args = parser.parse_args(argv)
    try:
        report = check_family(make_family(args.env, args.horizon), raise_on_error=False)
    except MetaRLError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(report.text())
    return 1 if report.errors else 0


if __name__ == "__main__":
    sys.exit(main())
