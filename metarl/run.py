"""What a built run holds: the objects training, checkpointing and evaluation share.

Its own module so that the modules that read a run (preflight, run_state, periodic_eval) need not
import the builder that makes one.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from metarl.algos import MetaLearner
from metarl.config import Config
from metarl.policy import MLPPolicy
from metarl.sampler import Sampler
from metarl.supervised import ExampleSampler, SupervisedFamily
from metarl.tasks import TaskFamily


@dataclass
class Run:
    cfg: Config
    family: TaskFamily | SupervisedFamily
    policy: MLPPolicy
    sampler: Sampler | ExampleSampler
    algo: MetaLearner
    device: torch.device
    task_rng: np.random.Generator
