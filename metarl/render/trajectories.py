"""point-goal: where the meta-policy and the adapted policies go, for a few held-out goals.

As in the MAML paper's Figure 4 (2D navigation): one panel per goal, the path of the policy
before adaptation (k = 0) and after 1..k inner policy-gradient steps. Each path is the policy's
mean action rolled out from the start (0, 0); a few sampled episodes of the adapted policy are
drawn faintly behind it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from metarl.render.trained import Trained, rollout, task_params


def point_goal_figure(trained: Trained, goals: int, steps: int, episodes: int, sampled: int = 3):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    tasks = trained.held_out_tasks(goals)
    params = trained.adapted(tasks, steps, episodes)
    env = trained.family.make_env()
    horizon = trained.family.horizon
    colors = ["0.3", "C0", "C2", "C1", "C3", "C4", "C5"]
    fig, axes = plt.subplots(
        1, goals, figsize=(3.6 * goals, 3.9), layout="constrained", squeeze=False
    )
    for i, (ax, task) in enumerate(zip(axes[0], tasks)):
        env.unwrapped.set_task(task)
        goal = np.asarray(task["goal"], dtype=float)
        extent = 0.6
        for k, per_task in enumerate(params):
            color = colors[k % len(colors)]
            p = task_params(per_task, i)
            for e in range(sampled if k == steps else 0):
                path, _ = rollout(env, trained.policy, p, horizon, trained.device, e, True)
                ax.plot(path[:, 0], path[:, 1], color=color, alpha=0.3, linewidth=0.8)
            path, ret = rollout(env, trained.policy, p, horizon, trained.device, 0)
            extent = max(extent, float(np.abs(path).max()) + 0.05)
            label = "pre-update (k = 0)" if k == 0 else f"{k} step{'s' if k > 1 else ''}"
            ax.plot(
                path[:, 0],
                path[:, 1],
                color=color,
                linewidth=2,
                linestyle="--" if k == 0 else "-",
                label=f"{label}: return {ret:.1f}",
            )
        ax.plot(0, 0, "o", color="gray", markersize=5)
        ax.plot(*goal, "*", color="red", markersize=14, label="goal")
        extent = min(extent, 3.0)
        ax.set_xlim(-extent, extent)
        ax.set_ylim(-extent, extent)
        ax.set_aspect("equal")
        ax.grid(alpha=0.3)
        ax.set_title(f"held-out goal ({goal[0]:+.2f}, {goal[1]:+.2f})", fontsize=9)
        ax.legend(fontsize=7, loc="best")
    env.close()
    fig.suptitle(
        f"{trained.cfg.algo} on point-goal (seed {trained.cfg.seed}, iteration "
        f"{trained.iteration}): mean-action paths before and after adaptation; faint: "
        f"{sampled} sampled episodes after {steps} step{'s' if steps > 1 else ''}",
        fontsize=9,
    )
    return fig


def write(trained: Trained, out: Path, goals: int, steps: int, episodes: int) -> list[Path]:
    from metarl.results.figures import save

    fig = point_goal_figure(trained, goals, steps, episodes)
    return save(fig, out / "trajectories")
