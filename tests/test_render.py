"""metarl-render: the point-goal trajectory figure, and a MuJoCo video rendered offscreen
(skipped where no offscreen OpenGL back end works)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from metarl.cli import CONFIGS_DIR
from metarl.config import build_config
from metarl.trainer import train

ROOT = Path(__file__).resolve().parent.parent
TINY = [
    "iterations=1",
    "sampler.meta_batch_size=2",
    "sampler.episodes_per_task=2",
    "sampler.num_workers=0",
    "policy.hidden_sizes=[8]",
    "eval.num_tasks=3",
    "eval.episodes_per_task=2",
    "eval.steps=2",
    "eval.at_end=false",
]


def render(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "metarl.render", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=600,
        env={k: v for k, v in os.environ.items() if k != "MUJOCO_GL"},
    )


def gl_works() -> bool:
    """Whether MuJoCo renders offscreen here with EGL (metarl-render's default)."""
    probe = (
        "from metarl.envs.mujoco.half_cheetah import HalfCheetahVelEnv\n"
        "env = HalfCheetahVelEnv(render_mode='rgb_array', width=32, height=32)\n"
        "env.reset(seed=0); assert env.render().shape == (32, 32, 3); env.close()\n"
    )
    env = {**os.environ, "MUJOCO_GL": "egl"}
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, cwd=ROOT, env=env, timeout=300
    )
    return out.returncode == 0


def test_point_goal_trajectory_figure(tmp_path):
    run_dir = train(
        build_config("maml", "point-goal", None, [*TINY, f"log.root={tmp_path}"], CONFIGS_DIR)
    )
    out = render(str(run_dir), "--goals", "2")
    assert out.returncode == 0, out.stderr
    written = sorted(p.name for p in (run_dir / "render").iterdir())
    assert written == ["trajectories.pdf", "trajectories.png"]
    from matplotlib.image import imread

    image = imread(run_dir / "render" / "trajectories.png")
    assert image.shape[1] > image.shape[0] > 300  # two panels side by side


def test_render_refuses_a_family_it_cannot_draw(tmp_path):
    run_dir = train(
        build_config("maml", "bandit", None, [*TINY, f"log.root={tmp_path}"], CONFIGS_DIR)
    )
    out = render(str(run_dir))
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert "point-goal (a trajectory figure) and MuJoCo families (a video)" in out.stderr


def test_cheetah_video_offscreen(tmp_path):
    if not gl_works():
        pytest.skip("no offscreen OpenGL here (needs libegl1 + libegl-mesa0, see docs)")
    import imageio.v2 as imageio

    run_dir = train(
        build_config(
            "maml",
            "cheetah-vel",
            None,
            [*TINY, "env.horizon=12", "eval.steps=1", f"log.root={tmp_path}"],
            CONFIGS_DIR,
        )
    )
    out = render(str(run_dir), "--format", "gif", "--out", str(tmp_path / "video"))
    assert out.returncode == 0, out.stderr
    frames = imageio.mimread(tmp_path / "video" / "cheetah-vel_task0.gif")
    assert len(frames) == 12  # one per step of the 12-step episode
    height, width = frames[0].shape[:2]
    assert width == 2 * 360 and height == 270  # meta-policy | adapted, side by side


def test_video_camera_follows_the_runner():
    """A cheetah 15 m from its start is still in the frame (the free camera alone loses it)."""
    if not gl_works():
        pytest.skip("no offscreen OpenGL here (needs libegl1 + libegl-mesa0, see docs)")
    probe = (
        "import mujoco, numpy as np\n"
        "from metarl.envs.mujoco.half_cheetah import HalfCheetahVelEnv\n"
        "from metarl.render.video import _follow\n"
        "env = HalfCheetahVelEnv(render_mode='rgb_array', width=96, height=72)\n"
        "env.reset(seed=0)\n"
        "env.render()  # the renderer places its camera at the start\n"
        "env.unwrapped.data.qpos[0] = 15.0\n"
        "mujoco.mj_forward(env.unwrapped.model, env.unwrapped.data)\n"
        "def body_pixels(frame):  # the model's tan body: red well above green and blue\n"
        "    f = frame.astype(int)\n"
        "    return int(((f[..., 0] > f[..., 1] + 25) & (f[..., 0] > f[..., 2] + 40)).sum())\n"
        "lost = body_pixels(env.render())\n"
        "_follow(env)\n"
        "print(lost, body_pixels(env.render()))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, "MUJOCO_GL": "egl"},
        timeout=300,
    )
    assert out.returncode == 0, out.stderr
    lost, followed = map(int, out.stdout.split())
    assert lost == 0 and followed > 50
