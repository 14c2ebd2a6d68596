"""`python -m smarts_rl.evaluate run=<run dir> [key=value ...]`, or `smarts_rl.evaluate(run=...)`:
how well a trained policy drives, next to two baselines, on the same scenario and seeds.

Each scenario is evaluated on its own, every policy on the same seeds: eval.json has its figures
under `per_scenario`, with the policy's `ratio_to_keep_lane` (its mean return over keep-lane's), and
`ratio_to_keep_lane_mean` over the scenarios; `policies` pools the episodes of every scenario.

The policy is the checkpoint's RLModules acting deterministically (argmax / mean action) unless
sample_actions=true; the baselines are uniformly random actions and keep-lane (see
`smarts_rl.evaluation.policies`). Everything goes to `<run dir>/eval/<timestamp>/`: eval.json,
rollout.gif, envision_replay.jsonl.

`-m` evaluates every combination, e.g. `-m run=<dir a>,<dir b> episodes=2` or
`-m checkpoint=best,latest` (in a multirun, values follow Hydra's grammar: quote one that holds a
comma). Every job is checked before the first starts; nothing of Hydra's is written.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Optional

from smarts_rl import command_line
from smarts_rl.errors import UsageError
from smarts_rl.evaluation.envision import (
    DEFAULT_ENDPOINT, SIM_NAME, check_envision_server, collect_replay, wait_for_envision_client,
)
from smarts_rl.evaluation.run_settings import SCENARIO_CHOICE, ScenarioChoice, run_settings
from smarts_rl.run_dir.layout import ENVISION_RECORDS, EVAL_FILE, GIF_FILE, eval_root, replay_file

PROGRAM = "evaluate"
POLICIES = ("policy", "random", "keep_lane")


@dataclass
class AgentsChoice:
    count: Optional[int] = None
    """Ego vehicles (null: the run's)."""


@dataclass
class AgentChoice:
    max_episode_steps: Optional[int] = None
    """Truncate each episode after this many steps (null: the run's)."""


@dataclass
class Options:
    """What `evaluate` takes: the command line's keys, and `smarts_rl.evaluate`'s keyword arguments."""

    run: str = ""
    """A run directory written by train.py (required)."""
    checkpoint: str = "best"
    """best (the best trial's, in summary.json), latest, or a checkpoint directory."""
    episodes: int = 10
    """Episodes per policy; episode i is reset with seed + i."""
    seed: Optional[int] = None
    """The first episode's seed (null: the run's seed)."""
    sample_actions: bool = False
    """Sample the policy's actions as in training, instead of taking the most likely one (seeded: the
    same run gives the same figures)."""
    sample_only: str = ""
    """With sample_actions=true and the continuous agent: sample only these action components
    (comma-separated: throttle, brake, steering), the mean for the others (empty: all)."""
    gif: bool = True
    """Write rollout.gif of the policy's first episode on each scenario."""
    envision: bool = False
    """Stream the policy's episodes, in real time, to an Envision server."""
    envision_endpoint: str = DEFAULT_ENDPOINT
    """The Envision server to stream to."""
    envision_record: bool = False
    """Save the policy's episodes as an Envision replay."""
    scenario: ScenarioChoice = field(default_factory=ScenarioChoice)
    agents: AgentsChoice = field(default_factory=AgentsChoice)
    agent: AgentChoice = field(default_factory=AgentChoice)


@dataclass
class Plan:
    """A checked evaluation: what it evaluates, where, with which checkpoint."""

    options: Options
    run_dir: Path
    cfg: Any
    """The run's typed config, with the evaluation's scenario and agent counts."""
    sources: dict
    checkpoint: Path
    sampled: Optional[list[str]]


def evaluate(options: Optional[Options] = None, /, **keys) -> dict:
    """Evaluates a trained run's policy against keep-lane and random; returns eval.json's report,
    with `eval_dir` (where it was written).

    Takes the command line's keys as keyword arguments, or an `Options` (keywords replace its
    values): `evaluate(run="outputs/<date>/<time>", episodes=2, scenario="merge",
    agents={"count": 2})`. Relative paths are from the working directory. Bad input raises
    UsageError, its message one line."""
    if isinstance(keys.get("scenario"), str):  # scenario=<name>, as on the command line
        keys["scenario"] = {"name": keys["scenario"]}
    return run_evaluation(check(command_line.typed_options(Options, options, keys)))


def rewrite(overrides: list[str], multirun: bool = False) -> list[str]:
    """`scenario=<name>` is `scenario.name=<name>`, given alone."""
    keys = [command_line.key_of(o) for o in overrides]
    if "scenario" in keys and len([k for k in keys if k.startswith("scenario")]) > 1:
        raise UsageError(SCENARIO_CHOICE)
    return [f"scenario.name={o.split('=', 1)[1]}" if command_line.key_of(o) == "scenario" else o for o in overrides]


def check(options: Options, cwd: Optional[Path] = None) -> Plan:
    """Everything about the input that can be checked before SMARTS, Ray and torch load."""
    from smarts_rl.run_dir.trained_run import find_checkpoint, open_run
    from smarts_rl.scenarios.sets import scenario_sources

    cwd = cwd or Path.cwd()
    if options.episodes < 1:
        raise UsageError(f"episodes must be >= 1, got {options.episodes}")
    run_dir = open_run(options.run, cwd)
    cfg = run_settings(run_dir, cwd, options.scenario, options.agents.count, options.agent.max_episode_steps)
    sources = scenario_sources(cfg.scenario, cwd=cwd)
    checkpoint = find_checkpoint(run_dir, options.checkpoint, cwd)
    if options.envision:
        check_envision_server(options.envision_endpoint)
    return Plan(options, run_dir, cfg, sources, checkpoint, sampled_components(options, cfg.agent))


def new_eval_dir(run_dir: Path) -> Path:
    stamp = datetime.now().strftime("%Y-%m-%d_%H-%M-%S")
    for attempt in range(100):
        path = eval_root(run_dir) / (stamp if attempt == 0 else f"{stamp}_{attempt}")
        try:
            path.mkdir(parents=True)
            return path
        except FileExistsError:
            continue
    raise UsageError(f"cannot make a new evaluation directory in {eval_root(run_dir)}")


def sampled_components(options: Options, agent) -> Optional[list[str]]:
    """The action components `sample_only` names (of the agent's action adapter), checked; None when
    it is not given."""
    if not options.sample_only:
        return None
    if not options.sample_actions:
        raise UsageError("sample_only needs sample_actions=true")
    from smarts_rl.agents import action_adapter

    names_of = getattr(action_adapter(agent), "ACTION_NAMES", None)
    if not names_of:
        raise UsageError(f"sample_only applies to actions of named components (agent=continuous); "
                         f"this run's agent is {agent.name}")

    names = [n.strip() for n in options.sample_only.split(",") if n.strip()]
    unknown = sorted(set(names) - set(names_of))
    if unknown or not names:
        raise UsageError(f"sample_only: unknown action component(s) {unknown or names!r}; "
                         f"expected some of {', '.join(names_of)}")
    return [n for n in names_of if n in names]


def run_evaluation(plan: Plan) -> dict:
    """Evaluates the policy and both baselines; writes and returns the report."""
    # SMARTS, Ray and torch load only now, so that a mistake in the input is answered at once.
    from smarts_rl.agents import action_adapter
    from smarts_rl.env import agent_ids
    from smarts_rl.evaluation.episodes import summarize
    from smarts_rl.evaluation.policies import KeepLanePolicy, RandomPolicy, load_trained_policy
    from smarts_rl.evaluation.rollout_gif import RolloutRecorder, write_episodes_gif
    from smarts_rl.scenarios.sets import build_scenarios

    options, run_dir, cfg, sources, checkpoint, sampled = (
        plan.options, plan.run_dir, plan.cfg, plan.sources, plan.checkpoint, plan.sampled)
    agents = agent_ids(cfg.agents.count)
    trained = load_trained_policy(checkpoint, cfg.agent, cfg.agents.policy, agents, sample=options.sample_actions,
                                  sample_dims=sampled and [action_adapter(cfg.agent).ACTION_NAMES.index(n) for n in sampled])

    scenario_dirs = build_scenarios(sources)
    eval_dir = new_eval_dir(run_dir)
    seed = cfg.seed if options.seed is None else options.seed
    seeds = [seed + i for i in range(options.episodes)]
    baselines = {
        "random": RandomPolicy(action_adapter(cfg.agent).action_space()),
        "keep_lane": KeepLanePolicy(cfg.agent),
    }
    report = {
        "run": str(run_dir),
        "checkpoint": str(checkpoint),
        "algo": cfg.algo.name,
        "agent": cfg.agent.name,
        "agents": cfg.agents.count,
        "agents_policy": cfg.agents.policy,
        # A set's label, a built-in's name, or your folder's path.
        "scenario": cfg.scenario.name if cfg.scenario.path is None else str(next(iter(sources.values()))),
        "scenarios": list(sources),
        "trained_on": _trained_scenario(run_dir),
        "trained_on_scenarios": _trained_scenarios(run_dir),
        "max_episode_steps": cfg.agent.max_episode_steps,
        "seeds": seeds,
        "deterministic": not options.sample_actions,
        "sampled_components": sampled,
        "policies": {},
        "per_scenario": {},
    }
    recorders = []
    pooled = {name: [] for name in POLICIES}
    for name, scenario_dir in scenario_dirs.items():
        recorder = RolloutRecorder() if options.gif else None
        envision = {}
        if options.envision:
            envision["envision_endpoint"] = options.envision_endpoint
        if options.envision_record:
            envision["envision_record_dir"] = str(eval_dir / ENVISION_RECORDS / name)
        # Envision shows the trained policy only, in real time when streamed.
        records = {"policy": rollouts(trained, {name: scenario_dir}, cfg, seeds,
                                      watch_first=recorder and recorder.capture, realtime=options.envision, **envision)}
        for baseline_name, baseline in baselines.items():
            records[baseline_name] = rollouts(baseline, {name: scenario_dir}, cfg, seeds)
        figures = {policy: summarize(records[policy], len(seeds)) for policy in POLICIES}
        report["per_scenario"][name] = {"source": str(sources[name]), "policies": figures,
                                        "ratio_to_keep_lane": ratio_to_keep_lane(figures)}
        for policy in POLICIES:
            pooled[policy] += records[policy]
        if options.envision_record:
            replay = replay_file(eval_dir, name, one_of_many=len(scenario_dirs) > 1)
            report["per_scenario"][name]["envision_replay"] = collect_replay(eval_dir / ENVISION_RECORDS / name, replay)
        if recorder:
            recorders.append((recorder, f"{cfg.algo.name} policy, {name}, seed {seeds[0]}"))
    shutil.rmtree(eval_dir / ENVISION_RECORDS, ignore_errors=True)

    report["policies"] = {policy: summarize(pooled[policy], len(seeds) * len(scenario_dirs)) for policy in POLICIES}
    ratios = [r["ratio_to_keep_lane"] for r in report["per_scenario"].values() if r["ratio_to_keep_lane"] is not None]
    report["ratio_to_keep_lane_mean"] = sum(ratios) / len(ratios) if ratios else None
    if options.envision_record and len(scenario_dirs) == 1:
        report["envision_replay"] = next(iter(report["per_scenario"].values()))["envision_replay"]
    if recorders:
        report["rollout_gif"] = {"path": str(eval_dir / GIF_FILE), **write_episodes_gif(recorders, eval_dir / GIF_FILE)}
    (eval_dir / EVAL_FILE).write_text(json.dumps(report, indent=2) + "\n")
    report["eval_dir"] = str(eval_dir)
    return report


def ratio_to_keep_lane(figures: dict) -> Optional[float]:
    """The policy's mean return over keep-lane's on the same seeds (null when keep-lane's is not positive)."""
    keep_lane = figures["keep_lane"]["episode_return_mean"]
    return figures["policy"]["episode_return_mean"] / keep_lane if keep_lane > 0 else None


def rollouts(policy, scenario_dir: Path | dict, cfg, seeds: list[int], watch_first=None, realtime: bool = False,
             **envision) -> list:
    """One episode of `policy` per seed, in a simulation of its own; `watch_first` sees the first."""
    from smarts_rl.env import SmartsEnv, env_config
    from smarts_rl.evaluation.episodes import run_episode

    env = SmartsEnv(env_config(scenario_dir, cfg.agent, num_agents=cfg.agents.count, seed=seeds[0],
                               envision_sim_name=SIM_NAME, **envision))
    records = []
    try:
        for i, seed in enumerate(seeds):
            records += run_episode(env, policy, seed, watch=watch_first if i == 0 else None, realtime=realtime)
    finally:
        env.close()
    if envision:
        wait_for_envision_client()
    return records


def table(report: dict) -> str:
    """The eval.json figures as a small table, one row per policy."""
    seeds = report["seeds"]
    lines = [
        f"{len(seeds)} episode(s) x {report['agents']} agent(s) on {report['scenario']}, seeds {seeds[0]}..{seeds[-1]}, "
        f"policy {_acting(report)}",
        f"{'':10s} {'return mean ± std':>19s} {'collision':>9s} {'off_road':>8s} {'reached_goal':>12s} {'mean_speed':>10s}",
    ]
    for name in POLICIES:
        s = report["policies"][name]
        lines.append(
            f"{name:10s} {s['episode_return_mean']:9.2f} ± {s['episode_return_std']:7.2f} "
            f"{s['collision_rate']:9.2f} {s['off_road_rate']:8.2f} {s['reached_goal_rate']:12.2f} "
            f"{s['mean_speed']:6.2f} m/s"
        )
    missions = report["policies"]["policy"].get("per_mission", {})
    if len(missions) > 1:
        lines.append("per mission: return mean (reached_goal rate) over its agent-episodes")
        for mission in missions:
            figures = [report["policies"][name]["per_mission"].get(mission) for name in POLICIES]
            lines.append(f"  {mission} ({figures[0]['agent_episodes']}): " + ", ".join(
                f"{name} {f['episode_return_mean']:.2f} ({f['reached_goal_rate']:.2f})"
                for name, f in zip(POLICIES, figures) if f
            ))
    return "\n".join(lines)


def _ratio_line(ratio: Optional[float]) -> str:
    return "ratio to keep_lane: " + ("n/a (keep_lane's return is not positive)" if ratio is None else f"{ratio:.3f}")


def _acting(report: dict) -> str:
    if report["deterministic"]:
        return "taking its most likely actions"
    sampled = report.get("sampled_components")
    return f"sampling its {' and '.join(sampled)} only" if sampled else "sampling its actions"


def print_report(report: dict) -> None:
    print(f"checkpoint: {report['checkpoint']}")
    per_scenario = report.get("per_scenario", {})
    if len(per_scenario) > 1:
        for name, figures in per_scenario.items():
            print(table({**report, "scenario": name, "policies": figures["policies"]}))
            print(_ratio_line(figures["ratio_to_keep_lane"]))
        print(f"mean over the {len(per_scenario)} scenarios: {_ratio_line(report['ratio_to_keep_lane_mean'])}")
    else:
        print(table(report))
        if per_scenario:
            print(_ratio_line(report["ratio_to_keep_lane_mean"]))
    print(f"written: {Path(report['eval_dir']) / EVAL_FILE}")
    if "rollout_gif" in report:
        gif = report["rollout_gif"]
        print(f"written: {gif['path']} ({gif['frames']} frames, {gif['bytes'] // 1024} KiB)")
    for replay in [figures.get("envision_replay") for figures in report.get("per_scenario", {}).values()]:
        if replay:
            print(f"written: {replay} (watch it: python -m smarts_rl.envision_replay <file>)")


def _trained_scenario(run_dir: Path) -> str:
    from smarts_rl.run_dir.trained_run import run_config

    scenario = run_config(run_dir).scenario
    return scenario.name if scenario.get("path") is None else str(scenario.path)


def _trained_scenarios(run_dir: Path) -> list[str]:
    """The names of the run's scenarios (its set's, after expansion), to tell seen from held-out ones."""
    from smarts_rl.config import settings
    from smarts_rl.scenarios.sets import scenario_sources
    from smarts_rl.run_dir.trained_run import run_config

    try:
        return list(scenario_sources(settings(run_config(run_dir)).scenario, cwd=run_dir))
    except Exception:  # a folder of the run's that is gone: its names are unknown, the evaluation still valid
        return []


COMMAND = command_line.Command(PROGRAM, Options, __doc__, check=check, run=run_evaluation, show=print_report,
                               multirun=True, rewrite=rewrite)


def main(argv: list[str] | None = None) -> int:
    return command_line.main(COMMAND, argv)


command_line.callable_module(evaluate)

if __name__ == "__main__":
    raise SystemExit(main())
