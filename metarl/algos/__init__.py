"""Algorithm registry: name -> class. Each module reads top to bottom; adapt() is shared."""

from metarl.algos.base import MetaLearner
from metarl.algos.maml import MAML
from metarl.algos.meta_sgd import MetaSGD
from metarl.algos.reptile import Reptile

ALGORITHMS: dict[str, type[MetaLearner]] = {"maml": MAML, "meta-sgd": MetaSGD, "reptile": Reptile}

__all__ = ["ALGORITHMS", "MAML", "MetaLearner", "MetaSGD", "Reptile"]
