"""TensorBoard scalars plus one console progress line per iteration, through one log() call."""

from __future__ import annotations

import math
import time
from pathlib import Path

from torch.utils.tensorboard import SummaryWriter


def _duration(seconds: float) -> str:
    seconds = int(round(seconds))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}h{m:02d}m{s:02d}s" if h else f"{m}m{s:02d}s"


class Logger:
    def __init__(
        self, run_dir: Path, total: int, print_every: int = 1, first_step: int = 1
    ) -> None:
        # On resume, purge_step hides any event at or after first_step that a killed run wrote,
        # so curves continue with no gap and no duplicated steps.
        self.writer = SummaryWriter(
            log_dir=str(run_dir), purge_step=first_step if first_step > 1 else None
        )
        self.first_step = first_step
        self.total = total
        self.print_every = print_every
        self.start = time.perf_counter()
        self.width = len(str(total))

    def hparams(self, text: str) -> None:
        self.writer.add_text("hyperparameters", text, 0)

    def log(self, metrics: dict[str, float], step: int) -> None:
        """Writes every metric at `step` (the meta-iteration, 1-based) and prints progress."""
        for key, value in metrics.items():
            self.writer.add_scalar(key, value, step)
        if step % self.print_every == 0 or step == self.total:
            elapsed = time.perf_counter() - self.start
            per_it = elapsed / (step - self.first_step + 1)
            # The mean return of RL tasks, or the query loss of supervised ones.
            pre = metrics.get(
                "returns/pre_adapt", metrics.get("supervised/loss_pre_adapt", math.nan)
            )
            post = metrics.get(
                "returns/post_adapt", metrics.get("supervised/loss_post_adapt", math.nan)
            )
            line = (
                f"[{step:>{self.width}}/{self.total}] "
                f"pre {pre:8.2f}  "
                f"post {post:8.2f}  "
                f"{metrics.get('time/iteration', per_it):5.2f} s/it  "
                f"ETA {_duration(per_it * (self.total - step))}"
            )
            print(line, flush=True)
        if metrics.get("trpo/accepted") == 0.0:
            print(
                f"  iteration {step}: the TRPO line search found no step that improves the "
                "surrogate within max_kl; the parameters were kept.",
                flush=True,
            )

    def close(self) -> None:
        self.writer.flush()
        self.writer.close()
