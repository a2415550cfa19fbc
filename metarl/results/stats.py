"""Statistics across seeds with rliable (Agarwal et al. 2021, "Deep RL at the Edge of the
Statistical Precipice"): percentile confidence intervals from its stratified bootstrap, and the
interquartile mean (IQM), the practice it recommends for few-run comparisons.

The unit of resampling is the seed (one training run): each run gives one score per column (a
number of inner steps k, or an iteration of a training curve), and the bootstrap resamples runs
within each column (rliable's strata). With n seeds the interval is that of the mean over n runs;
for n = 3 the 95% percentile interval spans about the lowest to the highest seed.

rliable is an optional extra (pip install "metarl[results]").
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from metarl.errors import ResultsError

CONFIDENCE = 0.95
METHOD = "rliable stratified bootstrap over seeds, 95% percentile interval"


@dataclass
class AcrossSeeds:
    """Per column: mean over seeds and its 95% CI, and the IQM with its CI (NaN for n < 2)."""

    n: int
    mean: np.ndarray
    low: np.ndarray
    high: np.ndarray
    iqm: np.ndarray
    iqm_low: np.ndarray
    iqm_high: np.ndarray


def _rliable():
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # its dependencies' deprecation notices
            from rliable import library
    except ImportError as err:
        raise ResultsError(
            "Confidence intervals across seeds use rliable, which is not installed. Install the "
            'results extra: pip install "metarl[results]" (or pip install rliable).'
        ) from err
    return library


def _iqm(scores: np.ndarray) -> np.ndarray:
    """Interquartile mean per column: the mean of the middle 50% of runs (rliable's IQM)."""
    from scipy.stats import trim_mean

    return np.atleast_1d(trim_mean(scores, proportiontocut=0.25, axis=0))


def across_seeds(scores: np.ndarray, reps: int = 10_000, seed: int = 0) -> AcrossSeeds:
    """`scores` [runs, columns] -> mean, IQM and their bootstrap CIs per column.

    The bootstrap draws from a generator seeded with `seed`, so a table is regenerated with the
    same numbers.
    """
    scores = np.asarray(scores, dtype=float)
    if scores.ndim != 2 or scores.shape[0] == 0:
        raise ValueError(f"scores must be [runs, columns] with runs >= 1, got {scores.shape}")
    n, m = scores.shape
    library = _rliable()
    mean = scores.mean(0)
    iqm = _iqm(scores)
    if n < 2:
        nan = np.full(m, np.nan)
        return AcrossSeeds(n, mean, nan, nan.copy(), iqm, nan.copy(), nan.copy())

    def aggregate(x: np.ndarray) -> np.ndarray:
        return np.concatenate([x.mean(0), _iqm(x)])

    # rliable 1.2's StratifiedBootstrap draws its resampling indices from numpy's global
    # generator, not from random_state: seed that one for the call, and put its state back.
    state = np.random.get_state()
    np.random.seed(seed)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            _, intervals = library.get_interval_estimates(
                {"runs": scores},
                aggregate,
                reps=reps,
                confidence_interval_size=CONFIDENCE,
                random_state=np.random.RandomState(seed),
            )
    finally:
        np.random.set_state(state)
    low, high = intervals["runs"]
    return AcrossSeeds(n, mean, low[:m], high[:m], iqm, low[m:], high[m:])
