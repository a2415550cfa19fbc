"""Block steppers: a block of built-in MuJoCo task envs stepped in one lean loop, bit-equal to
calling `env.step` on each.

Gymnasium's `step` spends about a quarter of a half-cheetah step outside the physics: argument
checks, building the observation and the info dict, Python floats for each reward term. A sampler
worker steps hundreds of sub-envs of one family per step, so here the loop over them does only what
the physics needs (set ctrl, `mj_step`, read the positions), and observations, rewards and
termination are then computed for the whole block at once in numpy, with the same float64
operations in the same order as the env's own step (tests/test_block_step.py holds every output
bit-equal to `env.step`, terminations included).

`metarl.vec.block.EnvBlock` asks the env class for one (`block_stepper(envs)` classmethod) and uses
it when it is given; `METARL_BLOCK_STEP=0` turns them off. Each sub-env's MjData stays the state,
so `reset`, `set_task` and everything else go through the env as before.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import mujoco
import numpy as np

# x velocities of the block -> the forward reward of each sub-env's task (the task mixin's).
ForwardRewards = Callable[[np.ndarray], np.ndarray]


class BlockStepped:
    """Mixin for a task env class: offers `block_class` as its block stepper.

    Only to a class that sets `block_stepped = True` in its own body: a subclass (which may change
    the step or the reward) does not inherit the offer and is stepped through its own `step`.
    Rendering envs are stepped through `step` too.
    """

    block_class: type[MujocoBlock]
    block_forward_rewards: Callable[[Sequence[Any]], ForwardRewards]  # from the task mixin

    @classmethod
    def block_stepper(cls, envs: Sequence[Any]) -> MujocoBlock | None:
        if not cls.__dict__.get("block_stepped", False):
            return None
        if any(type(env) is not cls or env.render_mode is not None for env in envs):
            return None
        return cls.block_class(envs, cls.block_forward_rewards(envs))


class MujocoBlock:
    """What every block of MuJoCo task envs shares (these and the rllab families' blocks in
    envs/mujoco/rllab_block.py): the sub-envs' MjData views, and one step in three parts: the
    per-env physics loop (`_simulate`), then rewards and terminations (`_outcomes`) and
    observations (`_observe`) for the whole block."""

    def __init__(self, envs: Sequence[Any], forward_rewards: ForwardRewards) -> None:
        env = envs[0]
        self.models = [e.model for e in envs]
        self.datas = [e.data for e in envs]
        # Views into each MjData, made once: creating them costs ~0.3 us each time.
        self.qpos = [d.qpos for d in self.datas]
        self.qvel = [d.qvel for d in self.datas]
        self.ctrl = [d.ctrl for d in self.datas]
        self.frame_skip = int(env.frame_skip)
        self.dt = env.dt
        self.low, self.high = env.action_space.low, env.action_space.high
        self.forward_rewards = forward_rewards
        self.nq, self.nv = env.model.nq, env.model.nv
        m = len(envs)
        self.x_before = np.zeros(m)
        self.x_after = np.zeros(m)
        self.state = np.zeros((m, self.nq + self.nv))  # qpos, qvel after the step (float64)

    def step(
        self,
        actions: np.ndarray,
        done: np.ndarray,
        obs: np.ndarray,
        rewards: np.ndarray,
        current: np.ndarray,
        first: int,
    ) -> None:
        """Steps the sub-envs not done; see `metarl.vec.block.BlockStepper`."""
        # As the env's step: float64, clipped to the bounds (the sampler clipped in float32).
        act = np.clip(actions.astype(np.float64), self.low, self.high)
        active = np.flatnonzero(~done)
        self._simulate(act, active, current, first)
        current[0] = -1  # what follows is for the whole block
        reward, terminated = self._outcomes(act)
        rewards[:] = 0.0
        rewards[active] = reward[active]
        if terminated is not None:
            done[active] |= terminated[active]
        self._observe(obs, active)

    def _simulate(
        self, act: np.ndarray, active: np.ndarray, current: np.ndarray, first: int
    ) -> None:
        raise NotImplementedError

    def _outcomes(self, act: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        raise NotImplementedError

    def _observe(self, obs: np.ndarray, active: np.ndarray) -> None:
        raise NotImplementedError


class CheetahBlock(MujocoBlock):
    """HalfCheetah-v5 task envs: reward forward(v_x) - w ||a||^2, never terminates."""

    def __init__(self, envs: Sequence[Any], forward_rewards: ForwardRewards) -> None:
        super().__init__(envs, forward_rewards)
        env = envs[0]
        self.ctrl_cost_weight = env._ctrl_cost_weight
        self.obs_start = 1 if env._exclude_current_positions_from_observation else 0

    def _simulate(
        self, act: np.ndarray, active: np.ndarray, current: np.ndarray, first: int
    ) -> None:
        qpos, qvel, ctrl, models, datas = self.qpos, self.qvel, self.ctrl, self.models, self.datas
        x0, x1, state, nq = self.x_before, self.x_after, self.state, self.nq
        frame_skip, mj_step = self.frame_skip, mujoco.mj_step
        # HalfCheetah-v5 also calls mj_rnePostConstraint after mj_step. It only fills cacc and
        # cfrc_*, which nothing here reads and the next mj_step does not use: the trajectory is the
        # same without it (the equality test covers whole episodes).
        for i in active:
            current[0] = first + i
            q = qpos[i]
            ctrl[i][:] = act[i]
            x0[i] = q[0]
            mj_step(models[i], datas[i], frame_skip)
            x1[i] = q[0]
            state[i, :nq] = q
            state[i, nq:] = qvel[i]

    def _outcomes(self, act: np.ndarray) -> tuple[np.ndarray, None]:
        x_velocity = (self.x_after - self.x_before) / self.dt
        ctrl_cost = self.ctrl_cost_weight * np.sum(np.square(act), axis=1)
        return self.forward_rewards(x_velocity) - ctrl_cost, None

    def _observe(self, obs: np.ndarray, active: np.ndarray) -> None:
        obs[active] = self.state[active, self.obs_start :]


class AntBlock(MujocoBlock):
    """Ant-v5 task envs with the MAML paper's reward (envs/mujoco/ant.py): forward(v_x) + survive
    - w_ctrl ||a / s||^2 - w_contact ||clip(cfrc_ext)||^2; terminates when unhealthy."""

    def __init__(self, envs: Sequence[Any], forward_rewards: ForwardRewards) -> None:
        super().__init__(envs, forward_rewards)
        env = envs[0]
        self.xpos = [d.xpos for d in self.datas]
        self.cfrc_ext = [d.cfrc_ext for d in self.datas]
        self.body = env.data.body(env._main_body).id
        self.survive = env._healthy_reward
        self.ctrl_cost_weight = env._ctrl_cost_weight
        self.action_scaling = env._action_scaling
        self.contact_cost_weight = env._contact_cost_weight
        self.contact_range = env._contact_force_range
        self.healthy_z = env._healthy_z_range
        self.terminate_when_unhealthy = bool(env._terminate_when_unhealthy)
        self.obs_start = 2 if env._exclude_current_positions_from_observation else 0
        self.forces_in_obs = bool(env._include_cfrc_ext_in_observation)
        self.forces = np.zeros((len(envs), env.model.nbody, 6))
        self.contact = np.zeros_like(self.forces)  # the forces clipped, as the env's cost sees them

    def _simulate(
        self, act: np.ndarray, active: np.ndarray, current: np.ndarray, first: int
    ) -> None:
        qpos, qvel, ctrl, xpos, cfrc = self.qpos, self.qvel, self.ctrl, self.xpos, self.cfrc_ext
        models, datas, x0, x1 = self.models, self.datas, self.x_before, self.x_after
        state, forces, nq, body = self.state, self.forces, self.nq, self.body
        frame_skip, mj_step, rne = self.frame_skip, mujoco.mj_step, mujoco.mj_rnePostConstraint
        for i in active:
            current[0] = first + i
            x = xpos[i]
            ctrl[i][:] = act[i]
            x0[i] = x[body, 0]
            mj_step(models[i], datas[i], frame_skip)
            rne(models[i], datas[i])  # cfrc_ext, for the contact cost
            x1[i] = x[body, 0]
            state[i, :nq] = qpos[i]
            state[i, nq:] = qvel[i]
            forces[i] = cfrc[i]

    def _outcomes(self, act: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        m, state = len(self.forces), self.state
        x_velocity = (self.x_after - self.x_before) / self.dt
        ctrl_cost = self.ctrl_cost_weight * np.sum(np.square(act / self.action_scaling), axis=1)
        self.contact = np.clip(self.forces, *self.contact_range)
        squares = np.square(self.contact.reshape(m, -1))
        contact_cost = self.contact_cost_weight * np.sum(squares, axis=1)
        reward = self.forward_rewards(x_velocity) + self.survive - ctrl_cost - contact_cost
        if not self.terminate_when_unhealthy:
            return reward, None
        z = state[:, 2]
        z_low, z_high = self.healthy_z
        healthy = np.isfinite(state).all(axis=1) & (z_low <= z) & (z <= z_high)
        return reward, ~healthy

    def _observe(self, obs: np.ndarray, active: np.ndarray) -> None:
        n = self.state.shape[1] - self.obs_start
        obs[active, :n] = self.state[active, self.obs_start :]
        if self.forces_in_obs:
            forces = self.contact[active, 1:].reshape(len(active), obs.shape[1] - n)
            obs[active, n:] = forces
