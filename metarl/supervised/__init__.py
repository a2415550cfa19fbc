"""Supervised few-shot task families (sine regression, 2-D classification) behind the same
adapt(), learners, checkpoints and evaluation as the RL families: the loss is the only
difference."""

from metarl.errors import unknown_name
from metarl.supervised.data import Examples, ExampleSampler
from metarl.supervised.families import FAMILIES, SupervisedFamily


def is_supervised(name: str) -> bool:
    return name in FAMILIES


def make_family(name: str) -> SupervisedFamily:
    if name not in FAMILIES:
        raise unknown_name("supervised family", name, tuple(FAMILIES))
    return FAMILIES[name]()


__all__ = [
    "FAMILIES",
    "ExampleSampler",
    "Examples",
    "SupervisedFamily",
    "is_supervised",
    "make_family",
]
