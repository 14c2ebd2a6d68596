"""smarts_rl.evaluation.seed_statistics: IQM and bootstrap CIs over seeds, on values checkable by hand."""

import numpy as np
import pytest
from scipy.stats import bootstrap, trim_mean

from smarts_rl.evaluation.seed_statistics import BOOTSTRAP_SEED, iqm, iqm_ci, mean_band


def test_the_iqm_is_the_mean_of_the_middle_half():
    assert iqm([1, 2, 3, 4, 5, 6, 7, 8]) == 4.5  # mean of 3, 4, 5, 6
    assert iqm([8, 1, 7, 2, 6, 3, 5, 4]) == 4.5  # order does not matter
    assert iqm([0, 0, 1, 100]) == 0.5  # the outlier is trimmed
    assert iqm([3, 5]) == 4.0  # too few values to trim: the mean


def test_one_seed_has_no_ci():
    assert iqm_ci([0.7]) is None
    assert mean_band([[1.0, 2.0, 3.0]]) is None
    assert iqm_ci([0.7, 0.8], [0.5]) is None  # a scenario with one seed


def test_equal_seeds_give_a_ci_of_zero_width():
    assert iqm_ci([0.9, 0.9, 0.9]) == [0.9, 0.9]


def test_the_ci_lies_within_the_seeds_values_and_around_the_iqm():
    values = [0.2, 0.5, 0.9, 1.1]
    low, high = iqm_ci(values)
    assert 0.2 <= low < iqm(values) < high <= 1.1


def test_the_ci_is_scipys_percentile_bootstrap_of_the_iqm():
    values = [0.015, 0.854, 0.61, 0.72, 0.33]
    expected = bootstrap((np.array(values),), lambda x, axis: trim_mean(x, 0.25, axis=axis), n_resamples=10_000,
                         method="percentile", confidence_level=0.95, rng=np.random.default_rng(BOOTSTRAP_SEED))
    assert iqm_ci(values) == pytest.approx([expected.confidence_interval.low, expected.confidence_interval.high])


def test_the_bootstrap_is_stratified_by_scenario():
    # Resampling within each scenario always draws two 0s and two 1s: the pooled IQM is 0.5 every
    # time. Pooling the runs first would resample [0, 0, 1, 1] and spread the CI.
    assert iqm_ci([0.0, 0.0], [1.0, 1.0]) == [0.5, 0.5]
    low, high = iqm_ci([0.0, 0.0, 1.0, 1.0])
    assert low < 0.5 < high


def test_the_curve_band_is_a_ci_of_the_mean_at_each_point():
    per_seed = np.array([[1.0, 10.0, 5.0], [3.0, 10.0, 7.0], [2.0, 10.0, 9.0]])
    low, high = mean_band(per_seed)
    assert low.shape == high.shape == (3,)
    assert low[1] == high[1] == 10.0  # every seed agrees there
    assert np.all(low <= per_seed.mean(axis=0)) and np.all(per_seed.mean(axis=0) <= high)
    assert 1.0 <= low[0] < 2.0 < high[0] <= 3.0
