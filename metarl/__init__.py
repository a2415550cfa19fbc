"""metarl: gradient-based meta-reinforcement learning (MAML, Meta-SGD, Reptile) in PyTorch."""

from metarl.tasks import register

__all__ = ["register"]
__version__ = "0.1.0"
