"""Env checker for task families: `python -m metarl.check_env <env spec>`, or check_family().

A task family is a Gymnasium env with `sample_tasks(n, rng)` and `set_task(task)` (legacy
`sample_tasks(n)` and `reset_task(task)` are accepted, on the env or on a wrapper around it; an env
of the old gym package is converted first, and a NOTE says so). The checker calls the env the way
the trainer does and reports every problem it finds, each saying what was expected, what came, the
likely cause and the fix. Hard violations (the run cannot work) are errors; soft ones (it may run,
but probably not as meant) are warnings. An exception raised inside the env is a finding naming
the method that raised, never a traceback (`--debug` prints the tracebacks too).

Checked, in order (a failed step stops the checks that depend on it):

1. the factory returns a gymnasium.Env (after the conversion of an old gym.Env);
2. sample_tasks and set_task exist and can be called as metarl calls them;
3. the action space is a float Box with finite bounds or a Discrete, the observation space a Box
   or Discrete;
4. sample_tasks(n, rng) returns n picklable tasks, the same ones for the same seed, not all equal;
5. reset() returns (obs, info) and step() the 5-tuple (obs, reward, terminated, truncated, info),
   observations of the space's shape and dtype, finite numbers, scalar reward and flags, a dict
   info;
6. the same task, seed and actions give the same first steps (reproducibility);
7. the task survives reset() (get_task() if the env has it, and behaviour), different tasks
   behave differently, a task set on another instance of the env (as the batched sampler does)
   or after a pickle round trip behaves the same.
"""

from metarl.check_env.checker import check_family
from metarl.check_env.cli import main
from metarl.check_env.report import EnvCheckWarning, Report

__all__ = ["EnvCheckWarning", "Report", "check_family", "main"]
