"""Algorithm registry: name -> class. Each module reads top to bottom; adapt() is shared."""

from __future__ import annotations

from typing import Any

from metarl.algos.base import MetaLearner
from metarl.algos.maml import MAML
from metarl.algos.meta_lstm import MetaLSTM
from metarl.algos.meta_sgd import MetaSGD
from metarl.algos.reptile import Reptile
from metarl.update_rules import UpdateRule

ALGORITHMS: dict[str, type[MetaLearner]] = {
    "maml": MAML,
    "meta-sgd": MetaSGD,
    "reptile": Reptile,
    "meta-lstm": MetaLSTM,
}


def trained_update_rule(cfg: Any, policy: Any, sampler: Any, state: dict) -> UpdateRule:
    """The update rule a run trained (fixed step, Meta-SGD's step sizes, the LSTM rule): its
    algorithm rebuilt from the run's config and its checkpointed state (`state["algo"]`) put
    back. Evaluation adapts with it, whatever the algorithm."""
    algo = ALGORITHMS[cfg.algo](policy, sampler, cfg)
    algo.load_extra_state(state["algo"])
    return algo.update_rule()


__all__ = [
    "ALGORITHMS",
    "MAML",
    "MetaLSTM",
    "MetaLearner",
    "MetaSGD",
    "Reptile",
    "trained_update_rule",
]
