"""metarl: gradient-based meta-reinforcement learning (MAML, Meta-SGD, Reptile) in PyTorch."""

from typing import Any

__all__ = ["register"]
__version__ = "0.1.0"

# The built-in families' Gymnasium ids (metarl/PointGoal-v0, ...) register on `import metarl`:
# metarl.envs imports only gymnasium (its entry points are strings), not torch or MuJoCo.
from metarl import envs as _envs  # noqa: E402, F401


def __getattr__(name: str) -> Any:
    # Lazy, so that importing a torch-free submodule (the sampler's worker processes import
    # metarl.vec.worker) does not import torch.
    if name == "register":
        from metarl.tasks import register

        return register
    raise AttributeError(f"module 'metarl' has no attribute '{name}'")
