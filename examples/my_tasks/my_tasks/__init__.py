"""Example task families for metarl, and the registrations that make them reachable by name.

Importing this package (``--import my_tasks``, or any ``--env my_tasks.<module>:<Class>``, or the
``my-family-ep`` entry point) registers:

- the Gymnasium id ``my_tasks/PushMass-v0`` (max_episode_steps=100), so that
  ``gymnasium.make("my_tasks/PushMass-v0")`` and ``--import my_tasks --env my_tasks/PushMass-v0``
  work;
- the metarl names ``my-family`` (PushMassEnv) and ``my-legacy`` (LegacyReachSpeedEnv, horizon
  100), so that ``--import my_tasks --env my-family`` works.

The entry point ``my-family-ep`` (in pyproject.toml) needs no import at all.
"""

import gymnasium as gym

import metarl
from my_tasks.envs import HORIZON, PushMassEnv, PushMassTask
from my_tasks.legacy import LegacyReachSpeedEnv

__all__ = ["PUSH_MASS_ID", "LegacyReachSpeedEnv", "PushMassEnv", "PushMassTask"]

PUSH_MASS_ID = "my_tasks/PushMass-v0"

# Way 2: a Gymnasium id. The horizon lives in the registration, as Gymnasium does for its own envs.
# The guard keeps a second import (e.g. importlib.reload) from re-registering.
if PUSH_MASS_ID not in gym.registry:
    gym.register(
        id=PUSH_MASS_ID, entry_point="my_tasks.envs:PushMassEnv", max_episode_steps=HORIZON
    )

# Way 3: names for `train.py --import my_tasks --env NAME`. `register` takes an env class, a
# function returning an env, or a 'package.module:Class' string; the horizon defaults to the
# env's `horizon` attribute (PushMassEnv has one), so only the legacy env needs it spelled out.
metarl.register("my-family", PushMassEnv)
metarl.register("my-legacy", LegacyReachSpeedEnv, horizon=100)
