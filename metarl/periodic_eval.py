"""Held-out adaptation during training (`eval.every N`): every N meta-iterations, the current
meta-policy is adapted with k = 0..eval.steps inner steps on the run's fixed held-out tasks, the
same tasks and the same action noise every time (and the same as the final evaluation), so the
curves over training differ only because the policy changed.

The evaluation draws from its own generators (a fresh sampler seeded with eval.seed), so training
with and without it gives the same numbers.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import numpy as np

from metarl.adapt import adaptation_rollouts
from metarl.evaluate import mean_ci95
from metarl.tb_layout import held_out_tag

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from metarl.trainer import Run


class HeldOutEvaluator:
    def __init__(self, run: Run) -> None:
        self.run = run
        ev = run.cfg.eval
        self.every = ev.every
        self.tasks: list = []
        if self.every > 0:
            # A legacy sample_tasks(n) reseeds numpy's global generator: keep training's state.
            state = np.random.get_state()
            self.tasks = run.family.sample_tasks(ev.num_tasks, np.random.default_rng(ev.seed))
            np.random.set_state(state)

    def due(self, iteration: int) -> bool:
        """Every `every` iterations; not at the last one when the final evaluation follows (it
        evaluates the same policy on the same tasks with the same noise)."""
        cfg = self.run.cfg
        if self.every <= 0 or iteration % self.every:
            return False
        return not (iteration == cfg.iterations and cfg.eval.at_end)

    def evaluate(self, iteration: int) -> tuple[dict[str, float], Figure]:
        """The held-out returns as scalars (plus time/eval), and the adaptation curve as a
        figure."""
        from metarl.results.figures import run_adaptation_figure
        from metarl.trainer import make_sampler

        run, ev = self.run, self.run.cfg.eval
        start = time.perf_counter()
        sampler = make_sampler(
            run.cfg, run.family, run.policy, ev.num_tasks, ev.episodes_per_task, run.device, ev.seed
        )
        try:
            batches, _ = adaptation_rollouts(
                sampler,
                run.policy.params(),
                run.algo.step_sizes(),
                self.tasks,
                ev.steps,
                run.cfg.inner,
                ev.later_lr_scale,
            )
        finally:
            sampler.close()
        per_task = np.stack([b.episode_returns().mean(1).cpu().numpy() for b in batches])
        stats = [mean_ci95(row) for row in per_task]
        result = {
            "steps": list(range(ev.steps + 1)),
            "mean_return": [m for m, _ in stats],
            "ci95": [c for _, c in stats],
            "num_tasks": ev.num_tasks,
            "episodes_per_task": ev.episodes_per_task,
            "algo": run.cfg.algo,
            "env": run.cfg.env.name,
            "seed": run.cfg.seed,
            "iteration": iteration,
        }
        scalars = {held_out_tag(k): m for k, (m, _) in enumerate(stats)}
        figure = run_adaptation_figure(result)
        scalars["time/eval"] = time.perf_counter() - start
        return scalars, figure
