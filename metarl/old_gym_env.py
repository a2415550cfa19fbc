"""An old-gym env as a Gymnasium env: shimmy's compatibility env, seeded, with either step tuple.

shimmy's GymV26CompatibilityV0 converts the spaces and forwards attributes (so an old env's
`sample_tasks` / `reset_task` stay reachable), render and close. What it leaves to its caller, this
class adds: old envs are written for gym versions whose `reset()` may take no seed (seeding went
through `env.seed(s)`, or nowhere) and whose `step()` may return 4 values, so reset() seeds the
env by whichever means it has, and step() converts a 4-tuple to Gymnasium's 5-tuple.

Imports shimmy: imported only when an old-gym env is converted (the [gym] extra).
"""

from __future__ import annotations

from typing import Any

import gymnasium
from gymnasium.utils.step_api_compatibility import convert_to_terminated_truncated_step_api
from shimmy.openai_gym_compatibility import GymV26CompatibilityV0

from metarl.task_methods import innermost, reseed_own_rng, signature_accepts


class OldGymEnv(GymV26CompatibilityV0):
    """An env subclassing the old `gym.Env`, any 0.x API, as a gymnasium.Env."""

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[Any, dict[str, Any]]:
        gymnasium.Env.reset(self, seed=seed)
        env = self.gym_env
        if seed is not None and signature_accepts(env.reset, "seed"):
            kwargs: dict[str, Any] = {"seed": seed}
            if options is not None and signature_accepts(env.reset, "options"):
                kwargs["options"] = options
            out = env.reset(**kwargs)
        else:
            # gym <= 0.21: the env seeds through its own seed(s) method, else its np_random is
            # replaced; either way the episode depends on the seed metarl gives, not on the clock.
            if seed is not None:
                reseed_own_rng(innermost(env), seed)
            out = env.reset()
        if isinstance(out, tuple) and len(out) == 2 and isinstance(out[1], dict):
            return out
        return out, {}

    def step(self, action: Any) -> tuple[Any, float, bool, bool, dict[str, Any]]:
        out = self.gym_env.step(action)
        if len(out) == 4:  # (obs, reward, done, info): done splits by info["TimeLimit.truncated"]
            return convert_to_terminated_truncated_step_api(out)
        return out
