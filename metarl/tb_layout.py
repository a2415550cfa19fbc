"""What TensorBoard shows first: tag names, the Custom Scalars layout and the HParams entry.

Tags are grouped by prefix and TensorBoard sorts the groups by name, so the names are chosen for
that order: `returns/` (training and held-out returns, the learning curves) comes first, then
`step_size/` (Meta-SGD), `success/` (families reporting info["success"]), `throughput/`, `time/`,
`trpo/`, and last `update/` (the outer loss and gradient norms: diagnostics, kept but not leading).
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
# The keys a sweep usually varies. TensorBoard's HParams table sorts hyperparameters by name and
# shows the first five (algo, env.name, inner.first_order, inner.lr, inner.steps), so a short list
# keeps the useful ones in view; every key is in config.yaml and the Text tab.
HPARAMS = (
    "algo",
    "env.name",
    "seed",
    "iterations",
    "inner.lr",
    "inner.steps",
    "inner.first_order",
    "outer.optimizer",
    "outer.lr",
    "outer.max_kl",
    "outer.fisher_subsample",
    "sampler.meta_batch_size",
    "sampler.episodes_per_task",
    "policy.hidden_sizes",
    "policy.init_log_std",
)


def is_run_only(key: str) -> bool:
    return key in RUN_ONLY_KEYS or key.startswith(RUN_ONLY_PREFIXES)


def held_out_tag(k: int) -> str:
    """Mean return on the held-out tasks after k inner steps (evaluation, not training)."""
    return f"returns/held_out_k{k}"


def held_out_success_tag(k: int) -> str:
    """Share of held-out episodes that succeeded (info["success"]) after k inner steps."""
    return f"success/held_out_k{k}"


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
    """The HPARAMS keys as flat `section.key` entries (lists and booleans as text)."""
    flat: dict[str, bool | int | float | str] = {}

    def walk(node: dict[str, Any], prefix: str) -> None:
        for key, value in node.items():
            if isinstance(value, dict):
                walk(value, f"{prefix}{key}.")
            elif isinstance(value, bool):  # text: TensorBoard would show a number (0.0000)
                flat[prefix + key] = str(value).lower()
            elif isinstance(value, int | float | str):
                flat[prefix + key] = value
            else:
                flat[prefix + key] = str(value)

    walk(cfg.to_dict(), "")
    return {k: flat[k] for k in HPARAMS}


def hparam_metrics(cfg: Config) -> list[str]:
    """The HParams tab's metric columns: the final held-out returns first, then training's."""
    return [held_out_tag(k) for k in range(cfg.eval.steps + 1)] + [PRE, POST]
