"""metarl: gradient-based meta-reinforcement learning (MAML, Meta-SGD, Reptile) in PyTorch."""

from typing import Any

__all__ = ["register"]
__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    # Lazy, so that importing a torch-free submodule (the sampler's worker processes import
    # metarl.worker) does not import torch.
    if name == "register":
        from metarl.tasks import register

        return register
    raise AttributeError(f"module 'metarl' has no attribute '{name}'")
