"""The MAML paper's locomotion tasks in its own environments: `cheetah-vel-rllab`,
`cheetah-dir-rllab`, `ant-vel-rllab` and `ant-dir-rllab` (Finn et al. 2017, Sec. 5.3), as the
paper's code defines them (the MAML code, cbfinn/maml_rl: rllab's half_cheetah_env_rand.py,
half_cheetah_env_rand_direc.py, ant_env_rand.py and ant_env_rand_direc.py on rllab's MujocoEnv),
rewritten for Gymnasium and today's MuJoCo.

=================  ======================================  ======================================
                   half cheetah                            ant
=================  ======================================  ======================================
Observation        Box(-inf, inf, (20,), float64): qpos    Box(-inf, inf, (125,), float64): qpos
                   without the root x (8), qvel (9), c     (15, with the torso's x, y), qvel
                   (3)                                     (14), clip(F, -1, 1) (84: 14 bodies x
                                                           6), the torso's rotation matrix (9),
                                                           c (3)
Action             Box(-1, 1, (6,)), clipped               Box(-1, 1, (8,)), clipped: torque 150 a
Time step          dt = 0.01 s: one MuJoCo step            dt = 0.02 s: one RK4 step (timestep
                   (timestep 0.01) per action              0.02) per action
Start              qpos 0 + 0.01 N(0, 1),                  rllab's init_qpos (torso at 0.55, legs
                   qvel 0.1 N(0, 1)                        bent) + 0.01 N(0, 1), qvel 0.1 N(0, 1)
Task (-vel)        {"velocity": v_goal}, v_goal ~ U[0, 2]  {"velocity": v_goal}, v_goal ~ U[0, 3]
Task (-dir)        {"direction": d}, d = -1 or +1 (1/2)    the same, along x
Reward (-vel)      -|v - v_goal| - 0.05 ||a||^2            -|v - v_goal| + 1 - 0.005 ||a||^2
                                                           - 0.0005 ||clip(F, -1, 1)||^2 + 0.05
Reward (-dir)      d v - 0.05 ||a||^2                      d v - 0.005 ||a||^2
                                                           - 0.0005 ||clip(F, -1, 1)||^2 + 0.05
Termination        never                                   torso z outside [0.2, 1.0], or a
                                                           non-finite qpos or qvel
Horizon            200 steps (2 s)                         200 steps (4 s)
=================  ======================================  ======================================

c is the torso subtree's centre of mass (rllab's get_body_com("torso"), MuJoCo's subtree_com) and
v its x velocity (rllab's get_body_comvel("torso")[0], MuJoCo's subtree_linvel): for both robots
the torso's subtree is the whole robot. Both are read after the step, at the new state, as rllab
read them after its forward pass (envs/mujoco/rllab_block.py). The observation's c[0] grows with
the distance run (rllab kept it while it dropped the root x). a is the action after clipping, F
MuJoCo's cfrc_ext (external forces and torques on every body, the world's included). `info` holds
the reward terms, which sum to the reward (reward_forward, reward_ctrl, and for the ant
reward_contact, reward_survive), x_velocity (v), x_position (c[0]) and goal_velocity or direction.
The reset noise comes from the env's np_random, so reset(seed=s) makes an episode reproducible.

Constants, from the MAML code: cheetah ctrl cost 1e-1 * 0.5 ||a||^2 and run cost |v - v_goal| (or
-d v); ant forward reward -|v - v_goal| + 1.0 (or d v), ctrl cost 0.5 * 1e-2 ||a / s||^2 with s
half the action range, contact cost 0.5 * 1e-3 ||clip(F, -1, 1)||^2, survive reward 0.05 (paid on
the terminating step too), done unless every state entry is finite and 0.2 <= z <= 1.0; v_goal
drawn from U[0, 2] (cheetah) or U[0, 3] (ant); the direction -1 when a draw from that range falls
below its middle. rllab's MujocoEnv: reset to init_qpos + 0.01 N(0, 1) and 0.1 N(0, 1) velocities,
one simulation step per action (its models set no frame_skip), get_body_comvel as the subtree's
mass-weighted mean of the bodies' centre-of-mass velocities. The paper's scripts: horizon 200,
the env wrapped in rllab's normalize(), which gives the policy [-1, 1] mapped linearly onto the
actuators' range and clipped (so the costs above see the clipped action, and s = 1 here).

The models: the half cheetah is the one the v5 families use (envs/mujoco/assets/half_cheetah.xml,
timestep 0.01: rllab's half_cheetah.xml is the same model without Gymnasium's tracking camera); the
ant is assets/ant_rllab.xml (rllab's timestep 0.02 and contact softness; actuators written as
gear 150 on [-1, 1], the torques rllab's gear 1 on [-150, 150] gave through normalize()).

Differences from the Gymnasium v5 families (envs/mujoco/half_cheetah.py, ant.py):

- time per action: 0.01 s (cheetah) and 0.02 s (ant) here, 0.05 s there (frame_skip 5), so a
  200-step episode covers 2 s or 4 s of motion instead of 10 s;
- velocity: the centre of mass's velocity at the end of the step here; there the root's (cheetah)
  or torso frame's (ant) x displacement over the step divided by dt;
- observation: 20 dims (+ the centre of mass) and 125 dims (+ x, y, contact forces, rotation
  matrix, centre of mass) here; 17 and 27 there;
- start: 0.01 N(0, 1) on qpos here, U[-0.1, 0.1] there; the ant from rllab's init_qpos (legs bent,
  torso at 0.55) here, from the model's rest pose (legs flat, torso at 0.75) there;
- ant model: timestep 0.02 and geom solimp (.8 .8 .01) here, 0.01 and MuJoCo's default solimp
  there; the ant's contact forces are those of the new state here, of the last substep's state
  there;
- the same: the reward's constants, the tasks, the action spaces, the horizon, the cheetah model.

Not reproduced: rllab ran MuJoCo 1.31 through its own mujoco_py; here the installed MuJoCo (3.x
or later) with its contact solver, so equal actions do not give rllab's exact trajectories.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import mujoco
import numpy as np
from gymnasium import utils
from gymnasium.envs.mujoco import MujocoEnv
from gymnasium.spaces import Box

from metarl.envs.mujoco.block_step import BlockStepped
from metarl.envs.mujoco.half_cheetah import XML_FILE as CHEETAH_XML_FILE
from metarl.envs.mujoco.rllab_block import (
    RllabAntBlock,
    RllabCheetahBlock,
    ant_physics,
    cheetah_physics,
)
from metarl.envs.mujoco.shared_model import SharedModel
from metarl.envs.mujoco.tasks import DirectionTasks, VelocityTasks

HORIZON = 200
QPOS_NOISE, QVEL_NOISE = 0.01, 0.1
CHEETAH_CTRL_COST_WEIGHT = 1e-1 * 0.5
ANT_XML_FILE = str(Path(__file__).resolve().parent / "assets" / "ant_rllab.xml")
ANT_CTRL_COST_WEIGHT = 0.5 * 1e-2
ANT_CONTACT_COST_WEIGHT = 0.5 * 1e-3
ANT_FORWARD_BONUS = 1.0  # ant-vel only: "make it happy, not suicidal" (the MAML code)
ANT_SURVIVE_REWARD = 0.05
ANT_HEALTHY_Z = (0.2, 1.0)
RENDER_MODES = ["human", "rgb_array", "depth_array", "rgbd_tuple"]


def _init_qpos(model: mujoco.MjModel, default: np.ndarray) -> np.ndarray:
    """The model's custom numeric `init_qpos` if it has one, as rllab's MujocoEnv started from."""
    for i in range(model.nnumeric):
        numeric = model.numeric(i)
        if numeric.name == "init_qpos":
            return np.array(numeric.data, dtype=np.float64)
    return default


class _RllabTaskEnv(BlockStepped, SharedModel, MujocoEnv, utils.EzPickle):
    """One MuJoCo step per action, then the family's forward pass (`physics`); rllab's reset.

    A family sets xml_file, obs_size, physics, and writes step and `_get_obs`; the task mixin
    (envs/mujoco/tasks.py) supplies sample_tasks, set_task, get_task, `_forward_reward(v)` and
    `_task_info()`.
    """

    horizon = HORIZON
    xml_file: str
    obs_size: int
    physics: Callable[[mujoco.MjModel, mujoco.MjData], None]
    _default_task: dict[str, float]

    def __init__(
        self,
        task: dict[str, Any] | None = None,
        render_mode: str | None = None,
        width: int = 480,
        height: int = 480,
        camera_id: int | None = None,
        camera_name: str | None = None,
    ) -> None:
        MujocoEnv.__init__(
            self,
            self.xml_file,
            frame_skip=1,
            observation_space=Box(-np.inf, np.inf, (self.obs_size,), np.float64),
            render_mode=render_mode,
            width=width,
            height=height,
            camera_id=camera_id,
            camera_name=camera_name,
            default_camera_config={"distance": 4.0},
        )
        utils.EzPickle.__init__(self, task, render_mode, width, height, camera_id, camera_name)
        self.init_qpos = _init_qpos(self.model, self.init_qpos)
        self.torso_id = self.model.body("torso").id
        self.set_task(task if task is not None else self._default_task)

    def _step_mujoco_simulation(self, ctrl: np.ndarray, n_frames: int) -> None:
        self.data.ctrl[:] = ctrl
        mujoco.mj_step(self.model, self.data, nstep=n_frames)
        self.physics(self.model, self.data)

    def reset_model(self) -> np.ndarray:
        qpos = self.init_qpos + QPOS_NOISE * self.np_random.standard_normal(self.model.nq)
        qvel = self.init_qvel + QVEL_NOISE * self.np_random.standard_normal(self.model.nv)
        self.set_state(qpos, qvel)  # mj_forward, as rllab's reset
        self.physics(self.model, self.data)
        return self._get_obs()

    def _clipped(self, action: Any) -> np.ndarray:
        # metarl's sampler clips already; clipping here too keeps direct users safe.
        low, high = self.action_space.low, self.action_space.high
        return np.clip(np.asarray(action, dtype=np.float64), low, high)

    def _centre_of_mass(self) -> tuple[np.ndarray, float]:
        """The torso subtree's centre of mass and its x velocity, at the current state."""
        return self.data.subtree_com[self.torso_id], self.data.subtree_linvel[self.torso_id, 0]

    def _get_obs(self) -> np.ndarray:
        raise NotImplementedError


class _RllabHalfCheetahEnv(_RllabTaskEnv):
    """rllab's HalfCheetah with a task: see the module docstring."""

    metadata = {"render_modes": RENDER_MODES, "render_fps": 100}
    xml_file = CHEETAH_XML_FILE
    obs_size = 20
    physics = staticmethod(cheetah_physics)
    block_class = RllabCheetahBlock
    ctrl_cost_weight = CHEETAH_CTRL_COST_WEIGHT

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict[str, float]]:
        action = self._clipped(action)
        self.do_simulation(action, self.frame_skip)
        com, velocity = self._centre_of_mass()
        forward = self._forward_reward(velocity)
        ctrl_cost = self.ctrl_cost_weight * np.sum(np.square(action))
        reward = forward - ctrl_cost
        info = {
            "reward_forward": float(forward),
            "reward_ctrl": -float(ctrl_cost),
            "x_velocity": float(velocity),
            "x_position": float(com[0]),
            **self._task_info(),
        }
        if self.render_mode == "human":
            self.render()
        return self._get_obs(), float(reward), False, False, info

    def _get_obs(self) -> np.ndarray:
        com, _ = self._centre_of_mass()
        return np.concatenate((self.data.qpos[1:], self.data.qvel, com))


class _RllabAntEnv(_RllabTaskEnv):
    """rllab's Ant with a task: see the module docstring."""

    metadata = {"render_modes": RENDER_MODES, "render_fps": 50}
    xml_file = ANT_XML_FILE
    obs_size = 125
    physics = staticmethod(ant_physics)
    block_class = RllabAntBlock
    ctrl_cost_weight = ANT_CTRL_COST_WEIGHT
    contact_cost_weight = ANT_CONTACT_COST_WEIGHT
    survive_reward = ANT_SURVIVE_REWARD
    healthy_z_range = ANT_HEALTHY_Z

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict[str, float]]:
        action = self._clipped(action)
        self.do_simulation(action, self.frame_skip)
        com, velocity = self._centre_of_mass()
        forward = self._forward_reward(velocity)
        ctrl_cost = self.ctrl_cost_weight * np.sum(np.square(action))
        contact_cost = self.contact_cost_weight * np.sum(np.square(self._contact_forces()))
        reward = forward - ctrl_cost - contact_cost + self.survive_reward
        state = self.state_vector()
        z_low, z_high = self.healthy_z_range
        terminated = not (np.isfinite(state).all() and z_low <= state[2] <= z_high)
        info = {
            "reward_forward": float(forward),
            "reward_ctrl": -float(ctrl_cost),
            "reward_contact": -float(contact_cost),
            "reward_survive": self.survive_reward,
            "x_velocity": float(velocity),
            "x_position": float(com[0]),
            **self._task_info(),
        }
        if self.render_mode == "human":
            self.render()
        return self._get_obs(), float(reward), terminated, False, info

    def _contact_forces(self) -> np.ndarray:
        return np.clip(self.data.cfrc_ext, -1.0, 1.0)

    def _get_obs(self) -> np.ndarray:
        com, _ = self._centre_of_mass()
        return np.concatenate(
            (
                self.data.qpos,
                self.data.qvel,
                self._contact_forces().ravel(),
                self.data.xmat[self.torso_id],
                com,
            )
        )


class RllabHalfCheetahVelEnv(VelocityTasks, _RllabHalfCheetahEnv):
    """cheetah-vel-rllab: run at the task's target velocity; see the module docstring."""

    velocity_range = (0.0, 2.0)
    block_stepped = True
    _default_task = {"velocity": 1.0}


class RllabHalfCheetahDirEnv(DirectionTasks, _RllabHalfCheetahEnv):
    """cheetah-dir-rllab: run forward (+1) or backward (-1); see the module docstring."""

    block_stepped = True
    _default_task = {"direction": 1.0}


class RllabAntVelEnv(VelocityTasks, _RllabAntEnv):
    """ant-vel-rllab: walk forward at the task's target velocity; see the module docstring."""

    velocity_range = (0.0, 3.0)
    forward_bonus = ANT_FORWARD_BONUS
    block_stepped = True
    _default_task = {"velocity": 1.5}


class RllabAntDirEnv(DirectionTasks, _RllabAntEnv):
    """ant-dir-rllab: walk forward (+1) or backward (-1) along x; see the module docstring."""

    paper_tasks_seed = 2  # test_maml_ant_direc.py

    block_stepped = True
    _default_task = {"direction": 1.0}
