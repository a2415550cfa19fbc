"""The evaluation's confidence intervals over tasks (RL returns and supervised losses alike)."""

from __future__ import annotations

import math

import numpy as np
import scipy.stats


def mean_ci95(per_task: np.ndarray) -> tuple[float, float]:
    """Mean over tasks and the half-width of its 95% confidence interval (exact Student t)."""
    n = len(per_task)
    if n < 2:
        return float(per_task.mean()), math.nan
    quantile = float(scipy.stats.t.ppf(0.975, n - 1))
    return float(per_task.mean()), quantile * float(per_task.std(ddof=1)) / math.sqrt(n)
