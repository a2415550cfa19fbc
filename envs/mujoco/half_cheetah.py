"""HalfCheetah at a target velocity or in a direction: the `cheetah-vel` and `cheetah-dir` task
families of the MAML paper (Finn et al. 2017, Sec. 5.3), on Gymnasium's HalfCheetah-v5.

=====================  ==========================================================
Observation            Box(-inf, inf, (17,), float64): qpos without the root x (8), qvel (9)
Action                 Box(-1, 1, (6,), float32): joint torques (gear 30 to 120), clipped
Start                  HalfCheetah-v5's: rest pose + U[-0.1, 0.1] on qpos, 0.1 N(0, 1) on qvel
Task (cheetah-vel)     {"velocity": v_goal}, v_goal ~ U[0, 2]; default 1.0
Task (cheetah-dir)     {"direction": d}, d = -1 or +1 with probability 1/2 each; default +1
Reward (cheetah-vel)   -|v_x - v_goal| - 0.05 ||a||^2
Reward (cheetah-dir)   d v_x - 0.05 ||a||^2
Termination            never; the horizon ends the episode
Horizon                200 steps of dt = 0.05 s (the registration's max_episode_steps; `horizon`)
=====================  ==========================================================

v_x is the root's x displacement over the step divided by dt, as HalfCheetah-v5 computes it; a is
the action after clipping. `info` holds reward_forward (-|v_x - v_goal| or d v_x), reward_ctrl
(-0.05 ||a||^2; the two sum to the reward), x_velocity, x_position and goal_velocity or direction.
The reset noise comes from the env's np_random, so reset(seed=s) makes an episode reproducible.

Sources: the MAML code (cbfinn/maml_rl, rllab/envs/mujoco/half_cheetah_env_rand.py and
half_cheetah_env_rand_direc.py: ctrl cost 1e-1 * 0.5 ||a||^2, run cost |v - v_goal| or -d v;
there the direction is -1 if a U[0, 2] draw is below 1, +1 otherwise) and pytorch-maml-rl's
HalfCheetahVelEnv / HalfCheetahDirEnv (Gym's HalfCheetah, as here). Differences from the rllab
originals: rllab read v_x from the torso subtree's centre-of-mass velocity and stepped the
simulation once per action (dt = 0.01 s, so 200 steps were 2 s), its observation added the torso's
centre of mass (20 dims) and its reset noise was 0.01 N(0, 1) on qpos; here v5's dt = 0.05 s
(frame_skip 5; 200 steps are 10 s), as in pytorch-maml-rl.

The model is Gymnasium's bundled half_cheetah.xml, shipped in envs/mujoco/assets/ with its
`settotalmass="14"` (deprecated by MuJoCo, which warns on stderr at every compilation) replaced by
an equivalent geom density: the compiled masses and inertias are the same.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from gymnasium import utils
from gymnasium.envs.mujoco.half_cheetah_v5 import HalfCheetahEnv

from metarl.envs.mujoco.block_step import BlockStepped, CheetahBlock
from metarl.envs.mujoco.shared_model import SharedModel
from metarl.envs.mujoco.tasks import DirectionTasks, VelocityTasks

HORIZON = 200
CTRL_COST_WEIGHT = 0.05
VELOCITY_LOW, VELOCITY_HIGH = 0.0, 2.0
XML_FILE = str(Path(__file__).resolve().parent / "assets" / "half_cheetah.xml")


class _HalfCheetahTaskEnv(BlockStepped, SharedModel, HalfCheetahEnv):
    """HalfCheetah-v5 with a task-dependent forward reward.

    The task mixin (envs/mujoco/tasks.py) supplies sample_tasks, set_task, get_task,
    `_forward_reward(x_velocity)` and `_task_info()`.
    """

    horizon = HORIZON
    block_class = CheetahBlock
    _default_task: dict[str, float]

    def __init__(self, task: dict[str, Any] | None = None, **kwargs: Any) -> None:
        kwargs.setdefault("xml_file", XML_FILE)
        kwargs.setdefault("ctrl_cost_weight", CTRL_COST_WEIGHT)
        super().__init__(**kwargs)
        # v5 records its own constructor's arguments; pickling must rebuild this class instead.
        utils.EzPickle.__init__(self, task, **kwargs)
        self.set_task(task if task is not None else self._default_task)

    def step(self, action):
        # metarl's sampler clips already; clipping here too keeps direct users safe.
        low, high = self.action_space.low, self.action_space.high
        return super().step(np.clip(np.asarray(action, dtype=np.float64), low, high))

    def _get_rew(self, x_velocity: float, action: np.ndarray) -> tuple[float, dict[str, float]]:
        forward = float(self._forward_reward(x_velocity))
        ctrl_cost = float(self.control_cost(action))
        info = {"reward_forward": forward, "reward_ctrl": -ctrl_cost, **self._task_info()}
        return forward - ctrl_cost, info


class HalfCheetahVelEnv(VelocityTasks, _HalfCheetahTaskEnv):
    """cheetah-vel: run at the task's target velocity; see the module docstring."""

    velocity_range = (VELOCITY_LOW, VELOCITY_HIGH)
    block_stepped = True
    _default_task = {"velocity": 1.0}


class HalfCheetahDirEnv(DirectionTasks, _HalfCheetahTaskEnv):
    """cheetah-dir: run forward (+1) or backward (-1), as fast as possible; see the module docs."""

    block_stepped = True
    _default_task = {"direction": 1.0}
