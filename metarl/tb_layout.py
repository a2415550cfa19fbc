"""What TensorBoard shows first: tag names, the Custom Scalars layout and the HParams entry.

Tags are grouped by prefix and TensorBoard sorts the groups by name, so the names are chosen for
that order: `returns/` (training and held-out returns, the learning curves) comes first, then
`step_size/` (Meta-SGD), `throughput/`, `time/`, `trpo/`, and last `update/` (the outer loss and
gradient norms: diagnostics, kept but not leading).
"""

from __future__ import annotations

from typing import Any

from metarl.config import Config

PRE, POST = "returns/pre_adapt", "returns/post_adapt"
HELD_OUT_FIGURE = "adaptation/held_out"

# Config keys that change where and how a run is written or stepped, not what it learns or how it
# is evaluated: the sampler gives the same episodes for any worker count or backend, and the
# evaluation during training draws from its own generators.
RUN_ONLY_PREFIXES = ("log.",)
RUN_ONLY_KEYS = {
    "device",
    "env.imports",
    "sampler.num_workers",
    "sampler.backend",
    "sampler.ray_address",
    "sampler.max_retries",
    "eval.at_end",
    "eval.every",
}
# The HParams table shows its first columns by default: these lead.
LEADING_HPARAMS = ("algo", "env.name", "seed", "inner.lr", "outer.optimizer")


def is_run_only(key: str) -> bool:
    return key in RUN_ONLY_KEYS or key.startswith(RUN_ONLY_PREFIXES)


def held_out_tag(k: int) -> str:
    """Mean return on the held-out tasks after k inner steps (evaluation, not training)."""
    return f"returns/held_out_k{k}"


def custom_scalars(cfg: Config) -> dict[str, dict[str, list]]:
    """The Custom Scalars dashboard: several tags on one chart (tags are regular expressions)."""
    steps = cfg.eval.steps
    return {
        "returns": {
            "training tasks: before (pre) and after (post) adaptation": [
                "Multiline",
                [PRE, r"returns/post_adapt(_step\d+)?$"],
            ],
            f"held-out tasks: after k = 0..{steps} inner steps": [
                "Multiline",
                [r"returns/held_out_k\d+$"],
            ],
        },
        "time": {
            "seconds per phase": ["Multiline", [r"time/(sampling|adaptation|update|eval)$"]],
        },
    }


def hparams(cfg: Config) -> dict[str, bool | int | float | str]:
    """Every config key that shapes learning or evaluation, as a flat `section.key` entry (lists
    and null as text); the most compared ones first."""
    flat: dict[str, bool | int | float | str] = {}

    def walk(node: dict[str, Any], prefix: str) -> None:
        for key, value in node.items():
            if isinstance(value, dict):
                walk(value, f"{prefix}{key}.")
            elif isinstance(value, bool | int | float | str):
                flat[prefix + key] = value
            else:
                flat[prefix + key] = str(value)

    walk(cfg.to_dict(), "")
    keys = [k for k in LEADING_HPARAMS if k in flat] + [k for k in flat if k not in LEADING_HPARAMS]
    return {k: flat[k] for k in keys if not is_run_only(k)}


def hparam_metrics(cfg: Config) -> list[str]:
    """The HParams tab's metric columns: the final held-out returns first, then training's."""
    return [held_out_tag(k) for k in range(cfg.eval.steps + 1)] + [PRE, POST]
