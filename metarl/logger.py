"""Every scalar of an iteration goes, through one log() call, to TensorBoard, progress.csv and
(with --track) Weights & Biases, and a console progress line is printed."""

from __future__ import annotations

import contextlib
import math
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import yaml
from torch.utils.tensorboard import SummaryWriter
from torch.utils.tensorboard.summary import hparams as hparams_summary

from metarl import tb_layout
from metarl.config import Config
from metarl.progress import ProgressCSV

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from metarl.tracking import Tracker

_HELD_OUT = re.compile(r"returns/held_out_k(\d+)$")


def after_existing_events(run_dir: Path) -> None:
    """Waits (at most a second) until a new event file will sort after every existing one.

    TensorBoard reads a run's event files in name order, and a name starts with the second it was
    created in, then the host and the PID. A file created in the same second as an earlier one
    (a writer that was stopped or killed, then resumed at once) can sort before it; the earlier
    file's last steps then look like a restart and hide the new file's later steps.
    """
    stamps = [
        int(m.group(1))
        for f in Path(run_dir).glob("events.out.tfevents.*")
        if (m := re.match(r"events\.out\.tfevents\.(\d+)\.", f.name))
    ]
    if stamps:
        while int(time.time()) <= max(stamps):
            time.sleep(0.05)


EVAL_EVENTS = "eval"
"""Subdirectory of a run for the held-out evaluation's events (TensorBoard: run <run>/eval)."""


@contextlib.contextmanager
def replacing_writer(directory: Path) -> Iterator[SummaryWriter]:
    """A TensorBoard writer into `directory` whose event file, once closed, replaces the ones
    there: an evaluation that is run again shows its points once, not once per run. (A restart
    marker, SummaryWriter's purge_step, would also hide the training's points at the same step.)
    On an error the old files stay."""
    directory.mkdir(parents=True, exist_ok=True)
    old = list(directory.glob("events.out.tfevents.*"))
    after_existing_events(directory)
    writer = SummaryWriter(log_dir=str(directory))
    try:
        yield writer
    finally:
        writer.close()
    for path in old:
        path.unlink(missing_ok=True)


def _duration(seconds: float) -> str:
    seconds = int(round(seconds))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}h{m:02d}m{s:02d}s" if h else f"{m}m{s:02d}s"


class Logger:
    def __init__(
        self,
        run_dir: Path,
        total: int,
        print_every: int = 1,
        first_step: int = 1,
        tracker: Tracker | None = None,
    ) -> None:
        # On resume, purge_step hides any event at or after first_step that a killed run wrote,
        # so curves continue with no gap and no duplicated steps (progress.csv does the same).
        after_existing_events(run_dir)
        self.writer = SummaryWriter(
            log_dir=str(run_dir), purge_step=first_step if first_step > 1 else None
        )
        self.csv = ProgressCSV(run_dir, first_step)
        self.tracker = tracker
        self.first_step = first_step
        self.total = total
        self.print_every = print_every
        self.start = time.perf_counter()
        self.width = len(str(total))

    def describe(self, cfg: Config) -> None:
        """Once per run: the config as text, the Custom Scalars layout and the HParams entry
        (its metrics are the held-out and training returns, read from their scalar tags)."""
        text = "\n".join(f"    {line}" for line in yaml.safe_dump(cfg.to_dict()).splitlines())
        self.writer.add_text("hyperparameters", text, 0)
        self.writer.add_custom_scalars(tb_layout.custom_scalars(cfg))
        metrics = dict.fromkeys(tb_layout.hparam_metrics(cfg), 0.0)
        for summary in hparams_summary(tb_layout.hparams(cfg), metrics):
            self.writer.file_writer.add_summary(summary)

    def log(self, metrics: dict[str, float], step: int) -> None:
        """Writes every metric at `step` (the meta-iteration, 1-based) and prints progress."""
        for key, value in metrics.items():
            self.writer.add_scalar(key, value, step)
        self.csv.write(metrics, step)
        if self.tracker is not None:
            self.tracker.log(metrics, step)
        held_out = {int(m.group(1)): v for k, v in metrics.items() if (m := _HELD_OUT.match(k))}
        if step % self.print_every == 0 or step == self.total or held_out:
            elapsed = time.perf_counter() - self.start
            per_it = elapsed / (step - self.first_step + 1)
            success = (
                f"success {metrics['success/pre_adapt']:4.0%} -> "
                f"{metrics['success/post_adapt']:4.0%}  "
                if "success/pre_adapt" in metrics  # families reporting info["success"]
                else ""
            )
            # The mean return of RL tasks, or the query loss of supervised ones.
            pre = metrics.get(tb_layout.PRE, metrics.get("supervised/loss_pre_adapt", math.nan))
            post = metrics.get(tb_layout.POST, metrics.get("supervised/loss_post_adapt", math.nan))
            line = (
                f"[{step:>{self.width}}/{self.total}] "
                f"pre {pre:8.2f}  "
                f"post {post:8.2f}  {success}"
                f"{metrics.get('time/iteration', per_it):5.2f} s/it  "
                f"ETA {_duration(per_it * (self.total - step))}"
            )
            if held_out:
                values = " ".join(f"{held_out[k]:.2f}" for k in sorted(held_out))
                line += (
                    f"  held-out k=0..{max(held_out)}: {values} "
                    f"(eval {metrics.get('time/eval', math.nan):.1f} s)"
                )
            print(line, flush=True)
        if metrics.get("trpo/accepted") == 0.0:
            print(
                f"  iteration {step}: the TRPO line search found no step that improves the "
                "surrogate within max_kl; the parameters were kept.",
                flush=True,
            )

    def figure(self, tag: str, figure: Figure, step: int) -> None:
        """A matplotlib figure as an image (TensorBoard's Images tab, and W&B with --track)."""
        if self.tracker is not None:
            self.tracker.figure(tag, figure, step)
        self.writer.add_figure(tag, figure, step, close=True)

    def close(self) -> None:
        self.writer.flush()
        self.writer.close()
        self.csv.close()
