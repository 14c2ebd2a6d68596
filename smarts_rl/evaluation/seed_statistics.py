"""Aggregates over seeds as Agarwal et al. (NeurIPS 2021) recommend: the interquartile mean (IQM)
and percentile bootstrap confidence intervals over runs, stratified by scenario.

Every figure comes from scipy: the IQM is `scipy.stats.trim_mean(x, 0.25)` and the CIs are
`scipy.stats.bootstrap` with the settings in `BOOTSTRAP` and a fixed seed, so that report.json's
per-seed values give back the same CI. Stratified: each scenario's runs are one sample, and scipy
resamples every sample on its own (runs are resampled within their scenario).
rliable, the paper's library, installs beside our pins but does not import: the newest arch it
allows (7.2.0) fails with pandas 3 (`deprecate_kwarg() missing 1 required positional argument`).
"""

from __future__ import annotations

import numpy as np
import scipy
from scipy.stats import bootstrap, trim_mean

TRIM = 0.25  # IQM: the mean of the middle 50% of the values
BOOTSTRAP = {"confidence_level": 0.95, "n_resamples": 10_000, "method": "percentile"}
BOOTSTRAP_SEED = 0
MIN_RUNS_FOR_CI = 2


def iqm(values) -> float:
    return float(trim_mean(np.asarray(values, dtype=float), TRIM, axis=None))


def pooled_iqm(*strata, axis=-1):
    """The IQM of the runs of every scenario together (in scipy's statistic signature)."""
    return trim_mean(np.concatenate(strata, axis=axis), TRIM, axis=axis)


def iqm_ci(*strata) -> list[float] | None:
    """The 95% CI of the pooled IQM of the strata (one list of per-seed values per scenario),
    resampling runs within each; None when one has fewer than two runs (nothing to resample)."""
    if not strata or min(len(s) for s in strata) < MIN_RUNS_FOR_CI:
        return None
    samples = [np.asarray(s, dtype=float) for s in strata]
    result = bootstrap(samples, pooled_iqm, vectorized=True, rng=np.random.default_rng(BOOTSTRAP_SEED), **BOOTSTRAP)
    return [float(result.confidence_interval.low), float(result.confidence_interval.high)]


def mean_band(per_seed) -> tuple[np.ndarray, np.ndarray] | None:
    """The 95% CI of the mean over seeds (rows) at each point (columns) of a learning curve."""
    per_seed = np.asarray(per_seed, dtype=float)
    if len(per_seed) < MIN_RUNS_FOR_CI:
        return None
    result = bootstrap((per_seed,), np.mean, axis=0, vectorized=True, rng=np.random.default_rng(BOOTSTRAP_SEED),
                       **BOOTSTRAP)
    return result.confidence_interval.low, result.confidence_interval.high


def describe() -> dict:
    """How report.json's aggregates were computed, to recompute them from its per-seed values."""
    return {
        "library": f"scipy {scipy.__version__}",
        "iqm": f"scipy.stats.trim_mean(per_seed, {TRIM})",
        "ci": "scipy.stats.bootstrap(strata, pooled IQM, vectorized=True, rng=numpy.random.default_rng(seed)): "
              "one sample per scenario, runs resampled within it",
        **BOOTSTRAP,
        "seed": BOOTSTRAP_SEED,
    }
