"""The rllab families' physics after each step, and their block steppers (envs/mujoco/rllab.py).

rllab's MujocoEnv.forward_dynamics ran one forward pass (mj_forward) after the simulation step and
its envs read the reward and observation from it: quantities at the new state. The functions here
are that pass for each family, shared by the env's own step and its block stepper, so that both
run the same MuJoCo calls in the same order. The blocks follow envs/mujoco/block_step.py: one lean
loop over the sub-envs' physics, then rewards, terminations and observations for the whole block
in numpy, with the same float64 operations as the env's step (tests/test_block_step.py holds every
output bit-equal to `env.step`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import mujoco
import numpy as np

from metarl.envs.mujoco.block_step import ForwardRewards, MujocoBlock


def cheetah_physics(model: mujoco.MjModel, data: mujoco.MjData) -> None:
    """The cheetah reads positions and velocities only (centre of mass and its velocity), so this
    runs the position and velocity stages of mj_forward that give them (kinematics, com-based
    positions and velocities), then the subtree velocities that mj_forward leaves out unless a
    sensor asks. Their values are those of a full mj_forward, and so is the next step: mj_forward
    does not write the solver's warm start (the integrator does), so rllab's full pass did not
    change the trajectory either (tests/test_rllab_families.py holds both to the bit)."""
    mujoco.mj_kinematics(model, data)
    mujoco.mj_comPos(model, data)
    mujoco.mj_comVel(model, data)
    mujoco.mj_subtreeVel(model, data)


def ant_physics(model: mujoco.MjModel, data: mujoco.MjData) -> None:
    """The ant also reads the contact forces (cfrc_ext) at the new state, which need the whole
    forward pass (the constraint forces) and then mj_rnePostConstraint: MuJoCo 2 and later fill
    cfrc_ext only on request, where MuJoCo 1.x, which rllab ran, computed them in every pass."""
    mujoco.mj_forward(model, data)
    mujoco.mj_rnePostConstraint(model, data)
    mujoco.mj_subtreeVel(model, data)


class _RllabBlock(MujocoBlock):
    """What both rllab blocks read after the step: the torso subtree's centre of mass and its x
    velocity, from each sub-env's MjData. The pass after the step is the env class's own
    (`physics`: cheetah_physics or ant_physics)."""

    def __init__(self, envs: Sequence[Any], forward_rewards: ForwardRewards) -> None:
        super().__init__(envs, forward_rewards)
        env = envs[0]
        self.physics = env.physics
        self.torso = env.torso_id
        self.subtree_com = [d.subtree_com for d in self.datas]
        self.subtree_linvel = [d.subtree_linvel for d in self.datas]
        self.ctrl_cost_weight = env.ctrl_cost_weight
        m = len(envs)
        self.com = np.zeros((m, 3))
        self.velocity = np.zeros(m)

    def _simulate(
        self, act: np.ndarray, active: np.ndarray, current: np.ndarray, first: int
    ) -> None:
        qpos, qvel, ctrl, models, datas = self.qpos, self.qvel, self.ctrl, self.models, self.datas
        subtree_com, subtree_linvel, torso = self.subtree_com, self.subtree_linvel, self.torso
        com, velocity, state, nq = self.com, self.velocity, self.state, self.nq
        frame_skip, physics, extra = self.frame_skip, self.physics, self._read_extra
        mj_step = mujoco.mj_step
        for i in active:
            current[0] = first + i
            ctrl[i][:] = act[i]
            mj_step(models[i], datas[i], frame_skip)
            physics(models[i], datas[i])
            state[i, :nq] = qpos[i]
            state[i, nq:] = qvel[i]
            com[i] = subtree_com[i][torso]
            velocity[i] = subtree_linvel[i][torso, 0]
            extra(i)

    def _read_extra(self, i: int) -> None:
        """Reads what else the family's outcomes or observation need from sub-env i's MjData."""


class RllabCheetahBlock(_RllabBlock):
    """The rllab half cheetahs: reward forward(v_com) - w ||a||^2, never terminate; observation
    qpos[1:], qvel, the torso subtree's centre of mass."""

    def _outcomes(self, act: np.ndarray) -> tuple[np.ndarray, None]:
        ctrl_cost = self.ctrl_cost_weight * np.sum(np.square(act), axis=1)
        return self.forward_rewards(self.velocity) - ctrl_cost, None

    def _observe(self, obs: np.ndarray, active: np.ndarray) -> None:
        n = self.state.shape[1] - 1
        obs[active, :n] = self.state[active, 1:]
        obs[active, n:] = self.com[active]


class RllabAntBlock(_RllabBlock):
    """The rllab ants: reward forward(v_com) - w_ctrl ||a||^2 - w_contact ||clip(F, -1, 1)||^2
    + survive, terminate when unhealthy; observation qpos, qvel, the clipped contact forces, the
    torso's rotation matrix and its subtree's centre of mass."""

    def __init__(self, envs: Sequence[Any], forward_rewards: ForwardRewards) -> None:
        super().__init__(envs, forward_rewards)
        env = envs[0]
        self.cfrc_ext = [d.cfrc_ext for d in self.datas]
        self.xmat = [d.xmat for d in self.datas]
        self.contact_cost_weight = env.contact_cost_weight
        self.survive = env.survive_reward
        self.healthy_z = env.healthy_z_range
        m = len(envs)
        self.forces = np.zeros((m, env.model.nbody, 6))
        self.rotation = np.zeros((m, 9))
        self.contact = np.zeros_like(self.forces)  # the forces clipped, as the reward sees them

    def _read_extra(self, i: int) -> None:
        self.forces[i] = self.cfrc_ext[i]
        self.rotation[i] = self.xmat[i][self.torso]

    def _outcomes(self, act: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        m, state = len(self.forces), self.state
        ctrl_cost = self.ctrl_cost_weight * np.sum(np.square(act), axis=1)
        self.contact = np.clip(self.forces, -1.0, 1.0)
        contact_cost = self.contact_cost_weight * np.sum(
            np.square(self.contact.reshape(m, -1)), axis=1
        )
        # rllab's order of the terms (forward - ctrl - contact + survive), as the env's step.
        reward = self.forward_rewards(self.velocity) - ctrl_cost - contact_cost + self.survive
        z = state[:, 2]
        z_low, z_high = self.healthy_z
        healthy = np.isfinite(state).all(axis=1) & (z_low <= z) & (z <= z_high)
        return reward, ~healthy

    def _observe(self, obs: np.ndarray, active: np.ndarray) -> None:
        n = self.state.shape[1]
        f = n + self.contact[0].size
        obs[active, :n] = self.state[active]
        obs[active, n:f] = self.contact[active].reshape(len(active), f - n)
        obs[active, f : f + 9] = self.rotation[active]
        obs[active, f + 9 :] = self.com[active]
