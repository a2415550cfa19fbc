"""Checks of how tasks behave: reproducible, kept across reset, different from each other, the
same on another instance and after a pickle round trip."""

from __future__ import annotations

import pickle

from metarl.check_env.base import CheckerBase
from metarl.check_env.helpers import (
    PROBE_STEPS,
    SEED,
    brief,
    deep_equal,
)
from metarl.check_env.report import finding


class BehaviourChecks(CheckerBase):
    """Checks of how tasks behave: reproducible, kept across reset, different from each other, the
    same on another instance and after a pickle round trip."""

    def check_behaviour(self) -> None:
        env, (task_a, *others) = self.env, self.tasks
        first = self.rollout(env, task_a)
        if not self.rollout(env, task_a).same_as(first):
            self.warn(
                finding(
                    "Reproducibility",
                    "the same observations and rewards from the same task, reset(seed=0) and "
                    "actions",
                    "different ones",
                    "randomness not drawn from self.np_random (e.g. np.random, random, or a "
                    "generator made in __init__), or reset() not calling "
                    "super().reset(seed=seed)",
                    "call super().reset(seed=seed) in reset() and draw all randomness from "
                    "self.np_random. The checks that compare behaviour (task survives reset, "
                    "tasks differ, tasks on other instances) were skipped",
                )
            )
            self.check_get_task()
            return
        survived = self.check_get_task()
        if survived and not self.rollout(env, task_a, reset_before=True).same_as(first):
            survived = False
            self.error(
                finding(
                    f"{self.set_name}(A), then an episode and reset()",
                    "the same first steps as right after set_task(A) (the task must stay set "
                    "across reset() until set_task is called again)",
                    "different observations or rewards",
                    "reset() changes or resamples the task, or step() changes it during an episode",
                    "keep the task in an attribute that only set_task writes",
                )
            )
        if not self.identical and all(self.rollout(env, t).same_as(first) for t in others):
            late = self.rollout(env, task_a, set_after_reset=True)
            if not late.same_as(first):
                if survived:
                    self.error(
                        finding(
                            f"{self.set_name}(task), then reset()",
                            "the task to stay set across reset()",
                            f"every task behaving alike after reset(), while {self.set_name} "
                            "called after reset() changes the rewards or observations",
                            "reset() puts the task back to a default (or resamples it)",
                            "do not touch the task in reset(); keep it in an attribute that "
                            "only set_task writes",
                        )
                    )
            else:
                self.warn(
                    finding(
                        f"{self.set_name}(task)",
                        "different rewards or observations for different tasks",
                        f"the same ones for {len(self.tasks)} sampled tasks "
                        f"(first {PROBE_STEPS} steps, same seed and actions)",
                        f"{self.set_name} stores the task where step() and reset() never read "
                        "it (a family whose tasks are all the same is almost always a bug)",
                        f"make step() (the reward or the dynamics) depend on what "
                        f"{self.set_name} stored",
                    )
                )
        other_env = self.make_env()
        if not self.rollout(other_env, task_a).same_as(first):
            self.error(
                finding(
                    "A task on another instance of the env",
                    "the same behaviour as on the instance that sampled it (metarl samples "
                    "tasks from one env and sets them on many copies)",
                    "different observations or rewards",
                    "the task refers to state of the env that sampled it, or the constructor "
                    "draws unseeded random state",
                    "make the task self-contained data and draw random state in reset() from "
                    "self.np_random",
                )
            )
        copy = pickle.loads(pickle.dumps(task_a))
        if not self.rollout(env, copy).same_as(first):
            self.warn(
                finding(
                    "A task after a pickle round trip",
                    "the same behaviour as the original",
                    "different observations or rewards",
                    "set_task compares tasks by identity, or the task's pickling drops state",
                    "make set_task read the task's values, and pickle every field",
                )
            )

    def check_get_task(self) -> bool:
        """If the env has get_task(): it returns the task set, also after reset(). False if not."""
        getter = self.method(self.env, "get_task")
        if getter is None:
            return True
        task = self.tasks[0]
        self.set_task(self.env, task)
        self.reset(self.env, SEED, validate=False)
        fix = "return the task last given to set_task"
        got = self.call("get_task()", getter, expected="the task set", fix=fix)
        if deep_equal(got, task) is False:
            self.error(
                finding(
                    f"get_task() after {self.set_name}(task) and reset()",
                    f"the task set, {brief.repr(task)}",
                    brief.repr(got),
                    "reset() changes or resamples the task, or get_task() reads another "
                    "attribute than set_task writes",
                    "keep the task in one attribute that only set_task writes",
                )
            )
            return False
        return True
