"""How check_env and the benches time our env against plain SMARTS (real SMARTS and SUMO)."""

from pathlib import Path

import pytest

from smarts_rl.bench_harness import throughput
from smarts_rl.config import compose_config, settings
from smarts_rl.scenarios.build import build_scenario, scenario_source


@pytest.fixture(scope="module")
def intersection_continuous():
    # Episodes capped at 60 steps, so that a few hundred steps span several: random controls
    # end some of them earlier, at seed-dependent steps, and others drive on to the cap.
    cfg = settings(compose_config(["scenario=intersection", "agent=continuous", "agent.max_episode_steps=60"]))
    return build_scenario(scenario_source(cfg.scenario, cwd=Path.cwd())), cfg


@pytest.mark.parametrize("raw_first", [True, False])
def test_taking_turns_drives_the_same_episodes_on_both_sides(intersection_continuous, raw_first):
    built, cfg = intersection_continuous
    raw, wrapped = throughput._session(built, cfg.agent, 1, cfg.seed, 150, raw_first=raw_first)
    # Random controls end episodes at seed-dependent steps: equal lengths are a sign that both
    # sides drew the same episode seeds, actions and traffic despite sharing global random state.
    assert len(raw.episode_lengths) >= 3
    assert any(0 < length < 59 for length in raw.episode_lengths[:-1]), "an episode that ended before the cap"
    assert raw.episode_lengths == wrapped.episode_lengths
    assert raw.steps == wrapped.steps == 150


def test_wrapper_overhead_is_ours_over_smarts_own_time(intersection_continuous):
    built, cfg = intersection_continuous
    report = throughput.measure(built, cfg.agent, 1, cfg.seed, 60)
    assert report["steps"] == 60 and report["episodes"] >= 1
    assert 0 < report["env_steps_per_s"] < report["raw_steps_per_s"]  # our code costs something
    assert report["wrapper_overhead"] == pytest.approx(1 - report["env_steps_per_s"] / report["raw_steps_per_s"], abs=1e-3)
    assert report["raw_alone_steps_per_s"] > 0


def test_reset_costs_are_our_resets_and_the_steps_smarts_took_before_the_first_observation(intersection_continuous):
    built, cfg = intersection_continuous
    report = throughput.measure(built, cfg.agent, 1, cfg.seed, 60)
    assert report["resets"] == report["episodes"]  # each episode, the unfinished last one too, began with one
    # The built-in scenarios' egos enter on the second step (their scenario.py).
    assert report["warmup_steps_per_reset"] == 2
    assert 0 < report["mean_reset_s"] < 5
    assert 0 < report["reset_share"] < 1


def test_side_by_side_limit_steps_plain_smarts_in_processes_of_its_own(intersection_continuous):
    built, cfg = intersection_continuous
    limit = throughput.side_by_side_limit(built, cfg.agent, 2, cfg.seed, seconds=3.0)
    assert 1 < limit < 1000


def test_shipped_and_patched_smarts_take_turns_on_the_same_episodes(intersection_continuous):
    built, cfg = intersection_continuous
    shipped, patched = throughput.time_shipped_and_patched(built, cfg.agent, 1, cfg.seed, 150)
    assert shipped.steps == patched.steps == 150
    # Random controls end episodes at seed-dependent steps: the same lengths on both sides.
    assert len(shipped.episode_lengths) >= 3
    assert shipped.episode_lengths == patched.episode_lengths
    assert shipped.seconds > 0 and patched.seconds > 0


def test_the_limit_as_smarts_ships_reports_the_cpu_of_each_plain_process_and_its_sumo(intersection_continuous):
    built, cfg = intersection_continuous
    limit, cpu = throughput.limit_with_cpu(built, cfg.agent, 2, cfg.seed, seconds=3.0, patched=False)
    assert 1 < limit < 1000
    assert {"plain 1", "plain 2", "sumo of plain 1", "sumo of plain 2"} <= set(cpu["each"]), cpu
    assert cpu["plain"] > cpu["sumo"] > 0 and cpu["ray"] == 0
    # SMARTS's own Python children start as in a plain script (forked, short-lived), not spawned
    # into fresh interpreters that cost more than SMARTS itself.
    assert cpu.get("python_child", 0) < 0.2 * cpu["plain"], cpu
