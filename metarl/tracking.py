"""Optional experiment tracking with Weights & Biases (`train.py --track`), as CleanRL and
rl-baselines3-zoo offer it: the same scalars as TensorBoard at the same meta-iteration, the config,
the held-out adaptation figure and the final evaluation in the run summary.

wandb is an optional extra (pip install "metarl[wandb]"). With WANDB_MODE=offline it needs no
network and no account: the run is written under RUN_DIR/wandb/ and `wandb sync` uploads it later.
A resumed run continues the same W&B run (its id is kept in RUN_DIR/wandb_id).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import TYPE_CHECKING, Any

from metarl.config import Config
from metarl.errors import ConfigError

if TYPE_CHECKING:
    from matplotlib.figure import Figure

MISSING = (
    "--track (log.track) logs to Weights & Biases, but wandb is not installed. Install it with "
    'pip install "metarl[wandb]", or drop --track.'
)


def check(cfg: Config) -> None:
    """Before anything is created: --track needs wandb."""
    if cfg.log.track and importlib.util.find_spec("wandb") is None:
        raise ConfigError(MISSING)


class Tracker:
    """One W&B run for one metarl run directory."""

    def __init__(self, cfg: Config, run_dir: Path, resumed: bool) -> None:
        try:
            import wandb
        except ImportError as err:
            raise ConfigError(MISSING) from err
        self._wandb = wandb
        id_file = run_dir / "wandb_id"
        run_id = id_file.read_text().strip() if resumed and id_file.is_file() else None
        parts = run_dir.resolve().parts
        try:
            self.run = wandb.init(
                project=cfg.log.wandb_project,
                entity=cfg.log.wandb_entity,
                name="/".join(parts[-3:]),  # <env>/<algo>/<time>-s<seed>
                group=f"{cfg.env.name}/{cfg.algo}",
                tags=[cfg.env.name, cfg.algo],
                config=cfg.to_dict(),
                dir=str(run_dir),
                id=run_id,  # None: a new W&B run
                resume="allow" if run_id else None,
            )
        except Exception as err:  # wandb raises its own types (no login, no network, ...)
            raise ConfigError(
                f"Weights & Biases could not start a run: {err}. Log in with `wandb login`, or "
                "run without network with WANDB_MODE=offline (upload later with wandb sync), or "
                "drop --track."
            ) from err
        id_file.write_text(self.run.id)

    def log(self, metrics: dict[str, float], step: int) -> None:
        self.run.log(metrics, step=step)

    def figure(self, tag: str, figure: Figure, step: int) -> None:
        self.run.log({tag: self._wandb.Image(figure)}, step=step)

    def final(self, result: dict[str, Any]) -> None:
        """The final held-out evaluation (evaluate.evaluate_run's result) in the run summary."""
        from metarl.tb_layout import held_out_tag

        for k, mean, ci in zip(result["steps"], result["mean_return"], result["ci95"]):
            self.run.summary[held_out_tag(k)] = mean
            self.run.summary[f"{held_out_tag(k)}_ci95"] = ci

    def finish(self) -> None:
        self.run.finish()


def start(cfg: Config, run_dir: Path, resumed: bool) -> Tracker | None:
    return Tracker(cfg, run_dir, resumed) if cfg.log.track else None
