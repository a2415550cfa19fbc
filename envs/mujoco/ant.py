"""Ant at a target velocity or in a direction: the `ant-vel` and `ant-dir` task families of the MAML
paper (Finn et al. 2017, Sec. 5.3), on Gymnasium's Ant-v5 with the paper's reward.

=====================  ==========================================================
Observation            Box(-inf, inf, (27,), float64): qpos without the torso x, y (13), qvel (14)
Action                 Box(-1, 1, (8,), float32): hip and ankle torques (gear 150), clipped
Start                  Ant-v5's: rest pose + U[-0.1, 0.1] on qpos, 0.1 N(0, 1) on qvel
Task (ant-vel)         {"velocity": v_goal}, v_goal ~ U[0, 3]; default 1.5
Task (ant-dir)         {"direction": d} along x, d = -1 or +1 with probability 1/2 each; default +1
Reward (ant-vel)       -|v_x - v_goal| + 1 + 0.05 - 0.005 ||a / s||^2 - 0.0005 ||clip(F, -1, 1)||^2
Reward (ant-dir)       d v_x + 0.05 - 0.005 ||a / s||^2 - 0.0005 ||clip(F, -1, 1)||^2
Termination            unhealthy: torso z outside [0.2, 1.0], or a non-finite qpos or qvel
Horizon                200 steps of dt = 0.05 s (the registration's max_episode_steps; `horizon`)
=====================  ==========================================================

v_x is the torso's x displacement over the step divided by dt, as Ant-v5 computes it: from
data.body("torso").xpos, which mj_step leaves one 0.01 s substep behind qpos (it computes the
kinematics before integrating; google-deepmind/mujoco#889), as pytorch-maml-rl's get_body_com did.
a is the action after clipping and s half the action range (1 here); F is MuJoCo's cfrc_ext, the
external contact forces and torques on every body (14 x 6). `info` holds the terms, which sum to
the reward: reward_forward (-|v_x - v_goal| + 1, or d v_x), reward_survive (0.05, also on the
terminating step), reward_ctrl and reward_contact (the costs, negated); and x_velocity, y_velocity,
x_position, y_position, distance_from_origin, goal_velocity or direction. The reset noise comes from
the env's np_random, so reset(seed=s) makes an episode reproducible.

Sources: the MAML code, cbfinn/maml_rl rllab/envs/mujoco/ant_env_rand.py and
ant_env_rand_direc.py::

    forward_reward = -np.abs(comvel[0] - self._goal_vel) + 1.0  # make it happy, not suicidal
    forward_reward = self.goal_direction * comvel[0]            # (ant-dir)
    ctrl_cost = 0.5 * 1e-2 * np.sum(np.square(action / scaling))   # scaling = (ub - lb) / 2
    contact_cost = 0.5 * 1e-3 * np.sum(np.square(np.clip(cfrc_ext, -1, 1)))
    survive_reward = 0.05
    done = not (np.isfinite(state).all() and 0.2 <= state[2] <= 1.0)

(the direction there is -1 if a U[0, 3] draw is below 1.5, +1 otherwise), and pytorch-maml-rl's
maml_rl/envs/mujoco/ant.py (AntVelEnv, AntDirEnv), which reproduces them on Gym's Ant. Differences:
rllab read v_x from the torso subtree's centre-of-mass velocity, used its own ant.xml (actuators
with ctrlrange +-150 and gear 1 where Gym's have +-1 and gear 150: the same torques, and the same
cost since the cost divides by the half range) and stepped the simulation once per action with
timestep 0.02 s; here v5's dt = 0.05 s (timestep 0.01, frame_skip 5), as in pytorch-maml-rl.
rllab also started from its ant.xml's init_qpos (legs bent), with reset noise 0.01 N(0, 1) on qpos.
Observations: the rllab ones (125 dims) added the torso x, y, the clipped contact forces (84), the
torso's rotation matrix and centre of mass; pytorch-maml-rl's (123) the same without x, y. Here
the v5 observation without contact forces (include_cfrc_ext_in_observation=False, 27 dims, the
Ant-v4 default): the contact forces still enter the reward. Pass
include_cfrc_ext_in_observation=True (gym.make kwargs) for v5's 105 dims with them.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from gymnasium import utils
from gymnasium.envs.mujoco.ant_v5 import AntEnv

from metarl.envs.mujoco.block_step import AntBlock, BlockStepped
from metarl.envs.mujoco.shared_model import SharedModel
from metarl.envs.mujoco.tasks import DirectionTasks, VelocityTasks

HORIZON = 200
FORWARD_BONUS = 1.0  # ant-vel only
SURVIVE_REWARD = 0.05
CTRL_COST_WEIGHT = 0.5 * 1e-2
CONTACT_COST_WEIGHT = 0.5 * 1e-3
VELOCITY_LOW, VELOCITY_HIGH = 0.0, 3.0


class _AntTaskEnv(BlockStepped, SharedModel, AntEnv):
    """Ant-v5 with the MAML paper's reward and a task-dependent forward reward.

    The task mixin (envs/mujoco/tasks.py) supplies sample_tasks, set_task, get_task,
    `_forward_reward(x_velocity)` and `_task_info()`.
    """

    horizon = HORIZON
    block_class = AntBlock
    _default_task: dict[str, float]

    def __init__(self, task: dict[str, Any] | None = None, **kwargs: Any) -> None:
        kwargs.setdefault("include_cfrc_ext_in_observation", False)
        kwargs.setdefault("ctrl_cost_weight", CTRL_COST_WEIGHT)
        kwargs.setdefault("contact_cost_weight", CONTACT_COST_WEIGHT)
        kwargs.setdefault("healthy_reward", SURVIVE_REWARD)
        super().__init__(**kwargs)
        # v5 records its own constructor's arguments; pickling must rebuild this class instead.
        utils.EzPickle.__init__(self, task, **kwargs)
        self._action_scaling = 0.5 * (self.action_space.high - self.action_space.low)
        self.set_task(task if task is not None else self._default_task)

    def step(self, action):
        # metarl's sampler clips already; clipping here too keeps direct users safe.
        low, high = self.action_space.low, self.action_space.high
        return super().step(np.clip(np.asarray(action, dtype=np.float64), low, high))

    def control_cost(self, action: np.ndarray) -> float:
        return self._ctrl_cost_weight * float(np.sum(np.square(action / self._action_scaling)))

    def _get_rew(self, x_velocity: float, action: np.ndarray) -> tuple[float, dict[str, float]]:
        forward = float(self._forward_reward(x_velocity))
        # rllab pays the survive reward on every step, the terminating one included.
        survive = self._healthy_reward
        ctrl_cost = self.control_cost(action)
        contact_cost = float(self.contact_cost)
        reward = forward + survive - ctrl_cost - contact_cost
        info = {
            "reward_forward": forward,
            "reward_survive": survive,
            "reward_ctrl": -ctrl_cost,
            "reward_contact": -contact_cost,
            **self._task_info(),
        }
        return reward, info


class AntVelEnv(VelocityTasks, _AntTaskEnv):
    """ant-vel: walk forward at the task's target velocity; see the module docstring."""

    velocity_range = (VELOCITY_LOW, VELOCITY_HIGH)
    forward_bonus = FORWARD_BONUS
    block_stepped = True
    _default_task = {"velocity": 1.5}


class AntDirEnv(DirectionTasks, _AntTaskEnv):
    """ant-dir: walk forward (+1) or backward (-1) along x; see the module docstring."""

    paper_tasks_seed = 2  # test_maml_ant_direc.py

    block_stepped = True
    _default_task = {"direction": 1.0}
