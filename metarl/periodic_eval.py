"""Held-out adaptation during training (`eval.every N`): every N meta-iterations, the current
meta-policy is adapted with k = 0..eval.steps inner steps on the run's fixed held-out tasks, the
same tasks and the same action noise every time (and the same as the final evaluation), so the
curves over training differ only because the policy changed.

The evaluation draws from its own generators (a fresh sampler seeded from eval.seed, see
metarl.held_out.held_out_seeds), so training with and without it gives the same numbers.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from metarl.build import make_sampler
from metarl.evaluate import adaptation_curve
from metarl.held_out import held_out_tasks
from metarl.tb_layout import held_out_success_tag, held_out_tag

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from metarl.run import Run


class HeldOutEvaluator:
    def __init__(self, run: Run) -> None:
        self.run = run
        ev = run.cfg.eval
        self.every = ev.every
        self.tasks: list = []
        self.noise_seed = 0
        if self.every > 0:
            self.tasks, self.noise_seed = held_out_tasks(run.cfg, run.family, ev.num_tasks)

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

        run, ev = self.run, self.run.cfg.eval
        start = time.perf_counter()
        sampler = make_sampler(
            run.cfg,
            run.family,
            run.policy,
            len(self.tasks),
            ev.episodes_per_task,
            run.device,
            self.noise_seed,
        )
        try:
            result = adaptation_curve(
                run.cfg, sampler, run.algo.update_rule(), self.tasks, ev.steps
            )
        finally:
            sampler.close()
        result["iteration"] = iteration
        stats = list(zip(result["mean_return"], result["ci95"]))
        scalars = {held_out_tag(k): m for k, (m, _) in enumerate(stats)}
        for k, rate in enumerate(result.get("success_rate", [])):
            scalars[held_out_success_tag(k)] = rate
        figure = run_adaptation_figure(result)
        scalars["time/eval"] = time.perf_counter() - start
        return scalars, figure
