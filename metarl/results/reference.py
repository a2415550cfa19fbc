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


# The MAML paper's locomotion numbers are figures (its Fig. 5); the means below are the data those
# figures were drawn from, released with the paper's code (cbfinn/maml_rl, icml/icml_<family>_
# results_maml.pkl: the mean over its 40 test tasks after k steps), the same source as its
# point-goal and cheetah-dir numbers.
_MAML = "MAML paper: MAML (Finn et al. 2017)"
_MAML_FIGURE = "MAML paper: MAML (Finn et al. 2017, its figure's data)"

REFERENCES: dict[str, list[Reference]] = {
    "point-goal": [
        Reference(_MAML, "maml", (-40.41, -11.68, -3.33, -3.23)),
        Reference(
            "Meta-SGD paper: Meta-SGD (Li et al. 2017, its own protocol)",
            "meta-sgd",
            (None, -8.64, None, None),
        ),
    ],
    "cheetah-dir": [Reference(_MAML, "maml", (-50.69, 293.19, 313.48, 315.65))],
    "cheetah-vel": [Reference(_MAML_FIGURE, "maml", (-129.53, -78.57, -66.62, -60.78))],
    "ant-vel": [Reference(_MAML_FIGURE, "maml", (30.58, 96.74, 100.06, 101.41))],
    "ant-dir": [Reference(_MAML_FIGURE, "maml", (8.66, 499.15, 500.68, 499.11))],
}


def references(family: str) -> list[Reference]:
    # The papers ran the rllab envs, which the -rllab families reproduce; the Gymnasium v5
    # families are the same tasks on another simulation step, compared with the same numbers.
    return REFERENCES.get(family.removesuffix("-rllab"), [])
