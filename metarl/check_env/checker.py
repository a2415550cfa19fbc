"""The env checker: every check, in order, on one family (check_family)."""

from __future__ import annotations

import traceback
import warnings

import gymnasium as gym

from metarl.check_env.behaviour import BehaviourChecks
from metarl.check_env.helpers import located
from metarl.check_env.interface import InterfaceChecks
from metarl.check_env.probes import ProbeChecks
from metarl.check_env.report import EnvCheckWarning, Report, StopChecks, finding, plural
from metarl.errors import EnvError
from metarl.tasks import TaskFamily


class Checker(InterfaceChecks, ProbeChecks, BehaviourChecks):
    """Runs the checks of check_family on one family; findings go to `self.report`."""

    def run(self) -> Report:
        self.report.notes.extend(self.family.notes)
        try:
            self.env = self.make_env()
            self.check_task_methods()
            self.check_spaces()
            if self.report.errors:  # the rollouts need both
                raise StopChecks
            self.check_sampled_tasks()
            self.check_api()
            self.check_behaviour()
        except StopChecks:
            pass
        except Exception as err:  # from an env attribute read outside self.call: still a finding
            self.report.tracebacks.append(f"checking {self.family.name}:\n{traceback.format_exc()}")
            self.error(
                f"Checking {self.family.name} raised {type(err).__name__}: {err}{located(err)}. "
                "Expected the env's attributes (spaces, task methods) to be readable. Fix the "
                f"error at that line; `python -m metarl.check_env {self.family.name} --debug` "
                "prints the traceback."
            )
        finally:
            for env in self._envs:
                try:
                    env.close()
                except Exception as err:
                    self.warn(
                        f"close() raised {type(err).__name__}: {err}{located(err)}. Expected it "
                        "to release the env's resources quietly. Fix: make close() safe to call "
                        "on an env that was reset and stepped."
                    )
        return self.report

    def make_env(self) -> gym.Env:
        env = self.call(
            f"Creating the env ({self.family.name})",
            self.family.make_env,
            expected="the env's class (or factory function) to build an env with no arguments",
            fix="make the constructor work without arguments, or point --env at a function "
            "that returns a ready env",
        )
        if not isinstance(env, gym.Env):
            self.error(
                finding(
                    f"{self.family.name}",
                    "a gymnasium.Env (a subclass of gymnasium.Env, or a function returning one)",
                    f"an instance of {type(env).__name__}, which is not a gymnasium.Env",
                    "--env names the wrong class, or a class written for another RL API",
                    "subclass gymnasium.Env (with observation_space, action_space, reset and "
                    "step), or point --env at the env class",
                )
            )
            raise StopChecks
        self._envs.append(env)
        return env


def check_family(
    family: TaskFamily, raise_on_error: bool = True, imports: list[str] | None = None
) -> Report:
    """Runs every check on `family` and returns the findings.

    With raise_on_error (the trainer's mode), errors raise one EnvError listing every finding, and
    warnings alone are issued as EnvCheckWarning so that they show on the console. `imports` (the
    run's env.imports) go into the re-check command the error suggests.
    """
    report = Checker(family).run()
    if raise_on_error:
        if report.errors:
            recheck = " ".join([*(f"--import {m}" for m in imports or []), family.name])
            raise EnvError(
                f"{family.name} is not a usable task family "
                f"({plural(len(report.errors), 'error')}, "
                f"{plural(len(report.warnings), 'warning')}):\n"
                f"{report.text()}\n"
                f"Re-check after fixing: python -m metarl.check_env {recheck}"
            )
        for message in report.warnings:
            warnings.warn(f"{family.name}: {message}", EnvCheckWarning, stacklevel=2)
    return report
