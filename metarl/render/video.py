"""MuJoCo families: a video of the meta-policy (k = 0) and the adapted policies (k = 1..K) side by
side on one held-out task, rendered offscreen.

MuJoCo picks its OpenGL back end from MUJOCO_GL when it is first imported; metarl-render sets
`egl` unless MUJOCO_GL is set. Without a GPU, Mesa's EGL renders on the CPU (Debian/Ubuntu
packages libegl1 and libegl-mesa0); OSMesa (libosmesa6, MUJOCO_GL=osmesa) works too.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import numpy as np

from metarl.errors import ResultsError
from metarl.render.trained import Trained, rollout, task_params

GL_HELP = (
    "Headless rendering needs an offscreen OpenGL back end: EGL (Debian/Ubuntu: apt-get install "
    "libegl1 libegl-mesa0; Mesa renders on the CPU when there is no GPU), used with "
    "MUJOCO_GL=egl (metarl-render's default), or OSMesa (apt-get install libosmesa6) with "
    "MUJOCO_GL=osmesa."
)


def is_mujoco(trained: Trained) -> bool:
    from gymnasium.envs.mujoco import MujocoEnv

    return isinstance(trained.family.prototype.unwrapped, MujocoEnv)


def _render_env(trained: Trained, width: int, height: int):
    try:
        env = trained.family.make_env(render_mode="rgb_array", width=width, height=height)
    except TypeError as err:
        raise ResultsError(
            f"The env of '{trained.cfg.env.name}' cannot be made with render_mode='rgb_array' "
            f"({err}). metarl-render needs an env class whose constructor takes Gymnasium's "
            "MuJoCo rendering arguments (render_mode, width, height)."
        ) from err
    env.reset(seed=0)
    try:
        env.render()
    except Exception as err:  # MuJoCo / PyOpenGL raise several types when no context exists
        import os

        env.close()
        raise ResultsError(
            f"MuJoCo could not render offscreen with MUJOCO_GL={os.environ.get('MUJOCO_GL')} "
            f"({type(err).__name__}: {err}). {GL_HELP}"
        ) from err
    return env


def _follow(env: Any) -> None:
    """Points the camera at the robot's root body, so a runner stays in the frame.

    Gymnasium's renderer uses a free camera (it resets the camera type before every frame), which
    stays where the episode started while a cheetah runs 10-20 m away in 200 steps; moving its
    look-at point to body 1 (the torso of the half cheetah and of the ant) follows the robot.
    """
    unwrapped = env.unwrapped
    viewer = getattr(getattr(unwrapped, "mujoco_renderer", None), "viewer", None)
    if viewer is not None and unwrapped.model.nbody > 1:
        viewer.cam.lookat[:2] = unwrapped.data.xpos[1][:2]


def _describe(task: Any) -> str:
    if isinstance(task, dict):
        return "task: " + ", ".join(
            f"{k} {v:+.2f}" if isinstance(v, float) else f"{k} {v}" for k, v in task.items()
        )
    return f"task: {task}"


def _label(frame: np.ndarray, lines: list[str]) -> np.ndarray:
    from PIL import Image, ImageDraw, ImageFont

    image = Image.fromarray(frame)
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default(size=max(12, frame.shape[0] // 22))
    y = 4
    for line in lines:
        draw.text(
            (6, y), line, fill=(255, 255, 255), font=font, stroke_width=2, stroke_fill=(0, 0, 0)
        )
        y += font.size + 4
    return np.asarray(image)


def _panel(trained, env, params, task, title, seed, stochastic) -> list[np.ndarray]:
    """One episode's frames, each labelled with the title, the task and the return so far."""
    env.unwrapped.set_task(task)
    frames: list[np.ndarray] = []
    total = [0.0]

    def on_step(t: int, obs: Any, reward: float, info: dict) -> None:
        total[0] += reward
        velocity = info.get("x_velocity")
        now = f"v_x {velocity:+.2f}  " if velocity is not None else ""
        _follow(env)
        frames.append(_label(env.render(), [title, _describe(task), f"{now}return {total[0]:.1f}"]))

    rollout(
        env,
        trained.policy,
        params,
        trained.family.horizon,
        trained.device,
        seed,
        stochastic,
        on_step,
    )
    return frames


def write(
    trained: Trained,
    out: Path,
    task_index: int,
    steps: int,
    episodes: int,
    fmt: str,
    size: tuple[int, int] = (360, 270),
    stochastic: bool = False,
) -> list[Path]:
    import imageio.v2 as imageio

    if fmt == "auto":
        fmt = "mp4" if importlib.util.find_spec("imageio_ffmpeg") is not None else "gif"
    if fmt == "mp4" and importlib.util.find_spec("imageio_ffmpeg") is None:
        raise ResultsError(
            'Writing mp4 needs imageio-ffmpeg: pip install "metarl[render]" (or '
            "imageio-ffmpeg), or pass --format gif."
        )
    env = _render_env(trained, *size)
    try:
        tasks = trained.held_out_tasks(task_index + 1)
        task = tasks[task_index]
        params = trained.adapted([task], steps, episodes)
        panels = []
        for k, per_task in enumerate(params):
            title = "meta-policy (k = 0)" if k == 0 else f"adapted, k = {k} step{'s' * (k > 1)}"
            panels.append(
                _panel(trained, env, task_params(per_task, 0), task, title, 0, stochastic)
            )
    finally:
        env.close()
    length = max(len(p) for p in panels)
    panels = [p + [p[-1]] * (length - len(p)) for p in panels]  # hold the last frame
    frames = [np.concatenate(row, axis=1) for row in zip(*panels)]
    fps = int(round(trained.family.prototype.unwrapped.metadata.get("render_fps", 20)))
    path = out / f"{trained.cfg.env.name}_task{task_index}.{fmt}"
    out.mkdir(parents=True, exist_ok=True)
    if fmt == "mp4":
        imageio.mimwrite(path, frames, fps=fps, macro_block_size=2)
    else:
        imageio.mimwrite(path, frames, duration=1000 / fps, loop=0)
    return [path]
