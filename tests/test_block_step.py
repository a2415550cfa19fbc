"""Block steppers (envs/mujoco/block_step.py) give exactly what each env's own step gives."""

from __future__ import annotations

import functools
from collections.abc import Callable

import mujoco
import numpy as np
import pytest

from metarl.envs.mujoco.ant import AntDirEnv, AntVelEnv
from metarl.envs.mujoco.half_cheetah import HalfCheetahDirEnv, HalfCheetahVelEnv
from metarl.envs.mujoco.rllab import (
    RllabAntDirEnv,
    RllabAntVelEnv,
    RllabHalfCheetahDirEnv,
    RllabHalfCheetahVelEnv,
)
from metarl.errors import SubEnvError
from metarl.vec.block import DONE, OUT_COLUMNS, EnvBlock

FIRST, COUNT = 3, 6


def blocks(make_env: Callable, monkeypatch: pytest.MonkeyPatch) -> tuple[EnvBlock, EnvBlock]:
    """The same sub-envs twice: block-stepped, and through env.step (METARL_BLOCK_STEP=0)."""
    fast = EnvBlock(make_env, FIRST, COUNT)
    with monkeypatch.context() as patch:
        patch.setenv("METARL_BLOCK_STEP", "0")
        plain = EnvBlock(make_env, FIRST, COUNT)
    assert fast.stepper is not None and plain.stepper is None
    tasks = fast.envs[0].sample_tasks(COUNT, np.random.default_rng(1))
    for block in (fast, plain):
        block.set_tasks(tasks)
    return fast, plain


def run_both(fast: EnvBlock, plain: EnvBlock, episodes: int = 2, steps: int = 200) -> int:
    """Steps both blocks with the same actions (a third out of bounds); asserts every packed row
    bit-equal at every step. Returns how many sub-envs terminated before the last step."""
    rng = np.random.default_rng(2)
    act_dim = fast.spaces.act_dim
    out_fast = np.zeros((COUNT, fast.spaces.obs_dim + OUT_COLUMNS), dtype=np.float32)
    out_plain = np.zeros_like(out_fast)
    terminated = 0
    for episode in range(episodes):
        fast.reset(10 * episode, out_fast)
        plain.reset(10 * episode, out_plain)
        for t in range(steps):
            actions = rng.normal(0.0, 1.5, size=(COUNT, act_dim)).astype(np.float32)
            fast.step(actions, out_fast)
            plain.step(actions, out_plain)
            # uint32 views: -0.0 and 0.0, or two NaNs, must match bit for bit too.
            np.testing.assert_array_equal(
                out_fast.view(np.uint32), out_plain.view(np.uint32), err_msg=f"step {t}"
            )
        terminated += int(out_fast[:, DONE].sum())
        for a, b in zip(fast.envs, plain.envs):  # the simulators' states, not just the outputs
            np.testing.assert_array_equal(a.data.qpos, b.data.qpos)
            np.testing.assert_array_equal(a.data.qvel, b.data.qvel)
    return terminated


@pytest.mark.parametrize(
    "make_env",
    [
        HalfCheetahVelEnv,
        HalfCheetahDirEnv,
        AntVelEnv,
        AntDirEnv,
        functools.partial(HalfCheetahVelEnv, exclude_current_positions_from_observation=False),
        functools.partial(AntDirEnv, include_cfrc_ext_in_observation=True),
        RllabHalfCheetahVelEnv,
        RllabHalfCheetahDirEnv,
        RllabAntVelEnv,
        RllabAntDirEnv,
    ],
    ids=[
        "cheetah-vel",
        "cheetah-dir",
        "ant-vel",
        "ant-dir",
        "cheetah-with-x",
        "ant-with-forces",
        "cheetah-vel-rllab",
        "cheetah-dir-rllab",
        "ant-vel-rllab",
        "ant-dir-rllab",
    ],
)
def test_block_step_equals_env_step(make_env: Callable, monkeypatch: pytest.MonkeyPatch) -> None:
    run_both(*blocks(make_env, monkeypatch))


def test_ant_terminations_match(monkeypatch: pytest.MonkeyPatch) -> None:
    # A narrow healthy range, so that sub-envs end early and stay ended (reward 0, row kept).
    make_env = functools.partial(AntVelEnv, healthy_z_range=(0.6, 0.9))
    assert run_both(*blocks(make_env, monkeypatch), steps=60) > 0


def test_rllab_ant_terminations_match(monkeypatch: pytest.MonkeyPatch) -> None:
    def make_env() -> RllabAntVelEnv:
        env = RllabAntVelEnv()
        env.healthy_z_range = (0.45, 0.6)  # narrow, so that sub-envs end early
        return env

    assert run_both(*blocks(make_env, monkeypatch), steps=60) > 0


def test_subclasses_and_rendering_envs_use_their_own_step() -> None:
    class Custom(HalfCheetahVelEnv):
        def _get_rew(self, x_velocity, action):
            return 0.0, {}

    assert EnvBlock(Custom, 0, 2).stepper is None
    assert EnvBlock(functools.partial(AntVelEnv, render_mode="rgb_array"), 0, 2).stepper is None
    assert EnvBlock(HalfCheetahDirEnv, 0, 2).stepper is not None


def test_an_error_in_the_block_names_the_sub_env(monkeypatch: pytest.MonkeyPatch) -> None:
    block = EnvBlock(HalfCheetahVelEnv, FIRST, COUNT)
    block.set_tasks([{"velocity": 0.5 + i} for i in range(COUNT)])
    out = np.zeros((COUNT, block.spaces.obs_dim + OUT_COLUMNS), dtype=np.float32)
    block.reset(0, out)
    calls = []

    def failing_step(model, data, nstep):
        calls.append(nstep)
        if len(calls) == 3:
            raise RuntimeError("simulator fault")

    monkeypatch.setattr(mujoco, "mj_step", failing_step)
    with pytest.raises(SubEnvError, match=r"Sub-env 5 .*'velocity': 2\.5.*simulator fault"):
        block.step(np.zeros((COUNT, block.spaces.act_dim), dtype=np.float32), out)
    assert block.current[0] == FIRST + 2  # where it stopped, as a dying worker leaves it


def test_an_error_in_the_blocks_own_code_names_the_block() -> None:
    block = EnvBlock(HalfCheetahDirEnv, FIRST, COUNT)
    out = np.zeros((COUNT, block.spaces.obs_dim + OUT_COLUMNS), dtype=np.float32)
    block.reset(0, out)

    def broken(x_velocity: np.ndarray) -> np.ndarray:
        raise FloatingPointError("bad reward")

    block.stepper.forward_rewards = broken
    with pytest.raises(SubEnvError, match=r"block stepper of sub-envs 3\.\.8 .*bad reward"):
        block.step(np.zeros((COUNT, block.spaces.act_dim), dtype=np.float32), out)
