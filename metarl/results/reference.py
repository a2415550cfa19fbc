"""Published adaptation results to draw next to metarl's: mean return after k = 0, 1, 2, 3 inner
policy-gradient steps on held-out tasks, as reported by the papers (None where not reported)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Reference:
    label: str
    algo: str
    returns: tuple[float | None, ...]
    """k = 0, 1, 2, ... inner steps."""
    approximate: bool = False
    """Read off a figure rather than taken from a table."""


REFERENCES: dict[str, list[Reference]] = {
    "point-goal": [
        Reference("MAML paper: MAML (Finn et al. 2017)", "maml", (-40.41, -11.68, -3.33, -3.23)),
        Reference(
            "Meta-SGD paper: Meta-SGD (Li et al. 2017, its own protocol)",
            "meta-sgd",
            (None, -8.64, None, None),
        ),
    ],
    "cheetah-dir": [
        Reference("MAML paper: MAML (Finn et al. 2017)", "maml", (-50.69, 293.19, 313.48, 315.65)),
    ],
    "cheetah-vel": [
        Reference(
            "MAML paper: MAML (Finn et al. 2017, read off a figure)",
            "maml",
            (-130.0, -79.0, -67.0, -61.0),
            approximate=True,
        ),
    ],
}


def references(family: str) -> list[Reference]:
    # The papers ran the rllab envs, which the -rllab families reproduce; the Gymnasium v5
    # families are the same tasks on another simulation step, compared with the same numbers.
    return REFERENCES.get(family.removesuffix("-rllab"), [])
