"""The MuJoCo task families of the MAML paper: cheetah-vel, cheetah-dir, ant-vel, ant-dir."""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
import warnings
from pathlib import Path
from xml.etree import ElementTree

import gymnasium as gym
import mujoco
import numpy as np
import pytest

from metarl import envs
from metarl.check_env import check_family
from metarl.check_env import main as check_env_main
from metarl.envs.mujoco.ant import AntDirEnv, AntVelEnv
from metarl.envs.mujoco.half_cheetah import XML_FILE, HalfCheetahDirEnv, HalfCheetahVelEnv
from metarl.tasks import make_family

ROOT = Path(__file__).resolve().parents[1]
# name, Gymnasium id, class, observation size, task key
FAMILIES = [
    ("cheetah-vel", "metarl/HalfCheetahVel-v0", HalfCheetahVelEnv, 17, "velocity"),
    ("cheetah-dir", "metarl/HalfCheetahDir-v0", HalfCheetahDirEnv, 17, "direction"),
    ("ant-vel", "metarl/AntVel-v0", AntVelEnv, 27, "velocity"),
    ("ant-dir", "metarl/AntDir-v0", AntDirEnv, 27, "direction"),
]
IDS = [f[0] for f in FAMILIES]
TASKS = {"velocity": {"velocity": 1.3}, "direction": {"direction": -1.0}}


def forward(key: str, task: dict, v_x: float, bonus: float = 0.0) -> float:
    """The documented forward reward: -|v_x - v_goal| (+ bonus), or d v_x."""
    if key == "velocity":
        return -abs(v_x - task["velocity"]) + bonus
    return task["direction"] * v_x


@pytest.mark.parametrize(("name", "env_id", "cls", "obs_dim", "key"), FAMILIES, ids=IDS)
def test_registered_with_horizon_200_and_spaces(name, env_id, cls, obs_dim, key):
    env = gym.make(env_id)
    assert env.spec.max_episode_steps == 200 and cls.horizon == 200
    assert isinstance(env.unwrapped, cls)
    obs, _ = env.reset(seed=0)
    assert obs.shape == env.observation_space.shape == (obs_dim,)
    assert obs.dtype == env.observation_space.dtype
    obs, *_ = env.step(env.action_space.sample())
    assert obs.shape == (obs_dim,) and obs.dtype == env.observation_space.dtype
    assert env.observation_space.contains(obs)

    family = make_family(name)
    assert family.horizon == 200 and family.builtin and family.make_env is cls
    assert pickle.loads(pickle.dumps(family.make_env)) is cls  # worker processes receive it


@pytest.mark.parametrize(("name", "env_id", "cls", "obs_dim", "key"), FAMILIES, ids=IDS)
def test_sample_tasks_ranges_and_reproducibility(name, env_id, cls, obs_dim, key):
    env = cls()
    tasks = env.sample_tasks(400, np.random.default_rng(3))
    assert tasks == env.sample_tasks(400, np.random.default_rng(3))
    assert tasks != env.sample_tasks(400, np.random.default_rng(4))
    assert all(set(t) == {key} and type(t[key]) is float for t in tasks)
    values = np.array([t[key] for t in tasks])
    if key == "velocity":
        high = 2.0 if name.startswith("cheetah") else 3.0
        assert values.min() >= 0.0 and values.max() < high
        assert values.min() < 0.1 * high and values.max() > 0.9 * high
    else:
        assert set(values) == {-1.0, 1.0}
        assert 0.4 < (values > 0).mean() < 0.6
    assert pickle.loads(pickle.dumps(tasks)) == tasks


@pytest.mark.parametrize(("name", "env_id", "cls", "obs_dim", "key"), FAMILIES, ids=IDS)
def test_task_stays_fixed_across_resets(name, env_id, cls, obs_dim, key):
    env = cls()
    task = TASKS[key]
    env.set_task(task)
    for seed in range(3):
        env.reset(seed=seed)
        env.step(env.action_space.sample())
        assert env.get_task() == task
    _, _, _, _, info = env.step(np.zeros(env.action_space.shape))
    assert info["goal_velocity" if key == "velocity" else "direction"] == task[key]


@pytest.mark.parametrize(("name", "env_id", "cls", "obs_dim", "key"), FAMILIES, ids=IDS)
def test_same_seed_same_trajectory(name, env_id, cls, obs_dim, key):
    actions = np.random.default_rng(0).uniform(-1.2, 1.2, size=(30, *cls().action_space.shape))
    runs = []
    for _ in range(2):
        env = cls(TASKS[key])
        obs, _ = env.reset(seed=7)
        trajectory = [obs]
        for action in actions:
            obs, reward, terminated, _, _ = env.step(action)
            trajectory += [obs, np.array([reward, terminated])]
        runs.append(np.concatenate(trajectory))
    assert np.array_equal(runs[0], runs[1])
    assert not np.array_equal(cls().reset(seed=8)[0], cls().reset(seed=7)[0])


@pytest.mark.parametrize("cls", [HalfCheetahVelEnv, HalfCheetahDirEnv])
def test_cheetah_reward_at_a_known_state(cls):
    key = "velocity" if cls is HalfCheetahVelEnv else "direction"
    task = TASKS[key]
    env = cls(task)
    env.reset(seed=0)
    qpos = env.init_qpos + np.linspace(-0.05, 0.05, env.model.nq)
    qvel = np.array([1.5, 0.1, -0.2, 0.3, -0.3, 0.2, 0.1, -0.1, 0.0])
    env.set_state(qpos, qvel)
    x_before = env.data.qpos[0]
    action = np.array([2.0, -3.0, 0.5, -0.2, 1.0, -1.5])  # four entries beyond the bounds
    obs, reward, terminated, truncated, info = env.step(action)

    assert env.dt == pytest.approx(0.05)
    v_x = (env.data.qpos[0] - x_before) / env.dt
    clipped = np.clip(action, -1.0, 1.0)
    expected = forward(key, task, v_x) - 0.05 * np.sum(clipped**2)
    assert reward == pytest.approx(expected, rel=1e-12)
    assert info["x_velocity"] == pytest.approx(v_x, rel=1e-12)
    assert info["reward_forward"] == pytest.approx(forward(key, task, v_x))
    assert info["reward_forward"] + info["reward_ctrl"] == pytest.approx(reward)
    assert not terminated and not truncated

    # Clipping happens inside step(): the clipped action gives the same step.
    env.set_state(qpos, qvel)
    obs2, reward2, *_ = env.step(clipped)
    assert np.array_equal(obs, obs2) and reward == reward2


@pytest.mark.parametrize("cls", [AntVelEnv, AntDirEnv])
def test_ant_reward_at_known_states(cls):
    key = "velocity" if cls is AntVelEnv else "direction"
    task = TASKS[key]
    env = cls(task)
    env.reset(seed=0)
    qpos = env.init_qpos.copy()
    qpos[2] = 0.6  # torso height: the feet reach the floor within a few steps
    qpos[7:] = [0.0, 1.0, 0.0, -1.0, 0.0, -1.0, 0.0, 1.0]  # legs bent, as rllab's init_qpos
    qvel = np.zeros(env.model.nv)
    qvel[0] = 0.8
    env.set_state(qpos, qvel)
    actions = np.random.default_rng(0).uniform(-1.5, 1.5, size=(12, 8))
    contact_costs = []
    for action in actions:
        x_before, root_before = env.data.body("torso").xpos[0], env.data.qpos[0]
        _, reward, terminated, _, info = env.step(action)
        v_x = (env.data.body("torso").xpos[0] - x_before) / env.dt
        # xpos trails qpos by one substep (envs/mujoco/ant.py): close to the root displacement.
        assert v_x == pytest.approx((env.data.qpos[0] - root_before) / env.dt, abs=0.05)
        ctrl_cost = 0.5 * 1e-2 * np.sum(np.clip(action, -1.0, 1.0) ** 2)  # scaling: 1
        contact_cost = 0.5 * 1e-3 * np.sum(np.clip(env.data.cfrc_ext, -1.0, 1.0) ** 2)
        expected = forward(key, task, v_x, bonus=1.0) + 0.05 - ctrl_cost - contact_cost
        assert reward == pytest.approx(expected, rel=1e-12)
        assert info["x_velocity"] == pytest.approx(v_x, rel=1e-12)
        assert info["reward_ctrl"] == pytest.approx(-ctrl_cost)
        assert info["reward_contact"] == pytest.approx(-contact_cost)
        assert info["reward_survive"] == 0.05
        parts = ("reward_forward", "reward_survive", "reward_ctrl", "reward_contact")
        assert sum(info[p] for p in parts) == pytest.approx(reward)
        contact_costs.append(contact_cost)
        if terminated:  # these large actions make the ant jump: z > 1 ends the episode
            assert env.data.qpos[2] > 1.0
            break
    assert len(contact_costs) >= 5 and max(contact_costs) > 0  # the contact term was exercised


def test_ant_terminates_when_unhealthy(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # MuJoCo logs the non-finite state to MUJOCO_LOG.TXT
    env = AntVelEnv()
    env.reset(seed=0)
    qpos, qvel = env.init_qpos.copy(), env.init_qvel.copy()
    qpos[2] = 1.3  # torso above 1.0, falling for one step: still above
    env.set_state(qpos, qvel)
    _, _, terminated, _, info = env.step(np.zeros(8))
    assert terminated
    assert info["reward_survive"] == 0.05  # as rllab: also on the terminating step
    # The other two conditions, on the state (a step would let the floor push the torso up, and
    # MuJoCo resets a non-finite state itself).
    qpos[2] = 0.15
    env.set_state(qpos, qvel)
    assert not env.is_healthy
    qpos[2], qvel[6] = 0.6, np.inf
    env.set_state(qpos, qvel)
    assert not env.is_healthy
    qvel[6] = 0.0
    env.set_state(qpos, qvel)
    assert env.is_healthy


def test_shipped_cheetah_model_equals_gymnasium_bundled_one(tmp_path, monkeypatch, capfd):
    monkeypatch.chdir(tmp_path)  # MuJoCo writes its warnings to MUJOCO_LOG.TXT here too
    bundled = Path(gym.envs.mujoco.__file__).parent / "assets" / "half_cheetah.xml"
    assert 'settotalmass="14"' in bundled.read_text()
    try:
        reference = mujoco.MjModel.from_xml_path(str(bundled))  # warns: deprecated attribute
    except ValueError:  # a MuJoCo without settotalmass: apply it after compiling, as it did
        reference = mujoco.MjModel.from_xml_string(
            bundled.read_text().replace(' settotalmass="14"', "")
        )
        mujoco.mj_setTotalmass(reference, 14.0)
        mujoco.mj_setConst(reference, mujoco.MjData(reference))
    capfd.readouterr()
    assert "settotalmass" not in ElementTree.parse(XML_FILE).getroot().find("compiler").attrib
    ours = mujoco.MjModel.from_xml_path(XML_FILE)
    assert capfd.readouterr().err == ""
    assert ours.body_mass.sum() == pytest.approx(14.0)
    for field in ("body_mass", "body_inertia", "body_ipos", "body_iquat", "body_subtreemass"):
        assert np.allclose(getattr(ours, field), getattr(reference, field), rtol=1e-12), field
    assert (ours.nq, ours.nv, ours.nu, ours.ngeom) == (
        reference.nq,
        reference.nv,
        reference.nu,
        reference.ngeom,
    )
    # And the same motion under the same controls.
    data_ours, data_ref = mujoco.MjData(ours), mujoco.MjData(reference)
    for ctrl in np.random.default_rng(0).uniform(-1, 1, size=(100, 6)):
        data_ours.ctrl[:], data_ref.ctrl[:] = ctrl, ctrl
        mujoco.mj_step(ours, data_ours)
        mujoco.mj_step(reference, data_ref)
    assert np.allclose(data_ours.qpos, data_ref.qpos, atol=1e-8)


def test_no_output_or_warning_on_creation(tmp_path, monkeypatch, capfd):
    monkeypatch.chdir(tmp_path)
    capfd.readouterr()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for _, env_id, *_ in FAMILIES:
            env = gym.make(env_id)
            env.reset(seed=0)
            env.step(env.action_space.sample())
    out, err = capfd.readouterr()  # MuJoCo's C warnings go to fd 2, not through Python
    assert err == "" and out == ""
    assert not (tmp_path / "MUJOCO_LOG.TXT").exists()


def test_no_stderr_in_a_fresh_process_with_warnings_as_errors(tmp_path, capfd):
    code = (
        "import sys, envs, gymnasium as gym\n"
        "assert 'mujoco' not in sys.modules, 'importing envs must stay cheap'\n"
        f"for env_id in {[f[1] for f in FAMILIES]!r}:\n"
        "    gym.make(env_id).reset(seed=0)\n"
    )
    environ = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    capfd.readouterr()
    result = subprocess.run([sys.executable, "-W", "error", "-c", code], cwd=tmp_path, env=environ)
    out, err = capfd.readouterr()
    assert result.returncode == 0, err
    assert err == ""
    assert not (tmp_path / "MUJOCO_LOG.TXT").exists()


@pytest.mark.parametrize("name", IDS)
def test_env_checker_passes_clean(name, capsys):
    report = check_family(make_family(name), raise_on_error=False)
    assert report.errors == [] and report.warnings == []
    assert check_env_main([name, "--strict"]) == 0
    assert "0 errors, 0 warnings" in capsys.readouterr().out


def test_env_pickles_with_its_task():
    env = HalfCheetahVelEnv({"velocity": 0.4}, reset_noise_scale=0.0)
    copy = pickle.loads(pickle.dumps(env))
    assert isinstance(copy, HalfCheetahVelEnv) and copy.get_task() == {"velocity": 0.4}
    assert copy._reset_noise_scale == 0.0


def test_set_task_rejects_a_task_of_another_family():
    with pytest.raises(ValueError, match="expected a task"):
        HalfCheetahVelEnv().set_task({"direction": 1.0})
    with pytest.raises(ValueError, match="-1.0 or 1.0"):
        AntDirEnv().set_task({"direction": 0.5})


def test_builtin_ids_are_exported():
    assert set(envs.MUJOCO_IDS) == {f[1] for f in FAMILIES}


def test_envs_share_the_compiled_model_but_not_the_state():
    a, b = HalfCheetahVelEnv(), HalfCheetahVelEnv()
    assert a.model is b.model  # envs/mujoco/shared_model.py: one compiled model per process
    a.reset(seed=0)
    b.reset(seed=0)
    a.step(np.ones(6, dtype=np.float32))
    assert not np.array_equal(a.data.qpos, b.data.qpos)
    assert AntVelEnv().model is AntDirEnv().model
