"""Push a block along a line to a goal; each task has its own goal, mass and friction.

=====================  ===============================================================
Observation            Box(-inf, inf, (2,), float32): the block's position x and velocity v
Action                 Box(-1, 1, (1,), float32): the force F = MAX_FORCE * a (MAX_FORCE = 1)
Start                  x ~ U[-0.05, 0.05] (from reset's seed), v = 0
Task                   {"goal": g, "mass": m, "friction": c}, plain floats:
                       g ~ U[-1, 1], m ~ U[0.5, 2], c ~ U[0, 1]; none of them is observed
Dynamics (dt = 0.1)    v <- clip(v + dt * (F - c * v) / m, -1, 1);  x <- x + dt * v
Reward                 reward_dist + reward_ctrl, both in `info`:
                       reward_dist = -|x - g| (after the move), reward_ctrl = -0.01 * F^2
Termination            none: every episode runs the full horizon
Horizon                100 (`horizon` attribute; the Gymnasium registration uses the same)
=====================  ===============================================================

The policy sees neither the goal nor the block's mass and friction: it has to find them out from
the rewards of its first episodes, which is what the inner loop of MAML / Meta-SGD / Reptile
learns to do.
"""

from __future__ import annotations

from typing import Any, TypedDict

import gymnasium as gym
import numpy as np

HORIZON = 100
DT = 0.1
MAX_FORCE = 1.0
MAX_SPEED = 1.0
CTRL_COST = 0.01
GOAL_RANGE = (-1.0, 1.0)
MASS_RANGE = (0.5, 2.0)
FRICTION_RANGE = (0.0, 1.0)


class PushMassTask(TypedDict):
    """One task: a plain dict of floats (picklable, easy to log)."""

    goal: float
    mass: float
    friction: float


class PushMassEnv(gym.Env[np.ndarray, np.ndarray]):
    """The push-mass task family; see the module docstring for spaces, task and reward."""

    metadata = {"render_modes": []}
    horizon = HORIZON  # episode length metarl uses when the env is given as module:Class

    def __init__(self, task: PushMassTask | None = None) -> None:
        self.observation_space = gym.spaces.Box(-np.inf, np.inf, shape=(2,), dtype=np.float32)
        # Finite bounds: metarl clips its Gaussian actions to them.
        self.action_space = gym.spaces.Box(-1.0, 1.0, shape=(1,), dtype=np.float32)
        self._task: PushMassTask = task or {"goal": 0.5, "mass": 1.0, "friction": 0.5}
        self._x = 0.0
        self._v = 0.0

    # --- the two methods that make a Gymnasium env a task family -------------------------------

    def sample_tasks(self, n: int, rng: np.random.Generator) -> list[PushMassTask]:
        """n tasks drawn from `rng` only (never from global state), so runs are reproducible."""
        goals = rng.uniform(*GOAL_RANGE, size=n)
        masses = rng.uniform(*MASS_RANGE, size=n)
        frictions = rng.uniform(*FRICTION_RANGE, size=n)
        return [
            {"goal": float(g), "mass": float(m), "friction": float(c)}
            for g, m, c in zip(goals, masses, frictions)
        ]

    def set_task(self, task: PushMassTask) -> None:
        """Keeps `task` for every following reset() until set_task is called again."""
        self._task = task

    def get_task(self) -> PushMassTask:
        return self._task

    # --- an ordinary Gymnasium env ---------------------------------------------------------------

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        super().reset(seed=seed)
        self._x = float(self.np_random.uniform(-0.05, 0.05))  # randomness only from np_random
        self._v = 0.0
        return self._obs(), {}

    def step(self, action: np.ndarray) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        force = float(np.clip(np.asarray(action, dtype=np.float64).reshape(-1)[0], -1, 1))
        force *= MAX_FORCE  # the action is in [-1, 1]: a fraction of the largest force
        mass, friction = self._task["mass"], self._task["friction"]
        accel = (force - friction * self._v) / mass
        self._v = float(np.clip(self._v + DT * accel, -MAX_SPEED, MAX_SPEED))
        self._x += DT * self._v
        distance = abs(self._x - self._task["goal"])
        reward_dist = -distance
        reward_ctrl = -CTRL_COST * force**2
        info = {"reward_dist": reward_dist, "reward_ctrl": reward_ctrl, "distance": distance}
        return self._obs(), reward_dist + reward_ctrl, False, False, info

    def _obs(self) -> np.ndarray:
        return np.array([self._x, self._v], dtype=np.float32)
