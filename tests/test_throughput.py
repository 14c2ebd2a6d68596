"""How check_env and the benches time our env against plain SMARTS (real SMARTS and SUMO)."""

from pathlib import Path

import pytest

from smarts_rl import throughput
from smarts_rl.config import compose_config, settings
from smarts_rl.scenarios import build_scenario, scenario_source


@pytest.fixture(scope="module")
def intersection_continuous():
    cfg = settings(compose_config(["scenario=intersection", "agent=continuous"]))
    return build_scenario(scenario_source(cfg.scenario, cwd=Path.cwd())), cfg


@pytest.mark.parametrize("raw_first", [True, False])
def test_taking_turns_drives_the_same_episodes_on_both_sides(intersection_continuous, raw_first):
    built, cfg = intersection_continuous
    raw, wrapped = throughput._session(built, cfg.agent, 1, cfg.seed, 120, raw_first=raw_first)
    # Random controls end episodes early and at seed-dependent steps: a sign that both sides
    # drew the same episode seeds, actions and traffic despite sharing global random state.
    assert len(raw.episode_lengths) >= 3
    assert raw.episode_lengths == wrapped.episode_lengths
    assert raw.steps == wrapped.steps == 120


def test_wrapper_overhead_is_ours_over_smarts_own_time(intersection_continuous):
    built, cfg = intersection_continuous
    report = throughput.measure(built, cfg.agent, 1, cfg.seed, 60)
    assert report["steps"] == 60 and report["episodes"] >= 1
    assert 0 < report["env_steps_per_s"] < report["raw_steps_per_s"]  # our code costs something
    assert report["wrapper_overhead"] == pytest.approx(1 - report["env_steps_per_s"] / report["raw_steps_per_s"], abs=1e-3)
    assert report["raw_alone_steps_per_s"] > 0
