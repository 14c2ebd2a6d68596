"""`python -m smarts_rl.evaluate run=<run dir> [key=value ...]`: how well a trained policy drives,
next to two baselines, on the same scenario and seeds.

Options (defaults in brackets):
  run=<dir>                 a run directory written by train.py (required)
  checkpoint=best|latest|<path>   [best] best: the best trial's checkpoint in summary.json
  episodes=<n>              [10] episodes per policy; episode i is reset with seed + i
  seed=<n>                  [the run's seed]
  scenario=<name>           a built-in scenario to test transfer on (default: every scenario of the run's set)
  scenario.path=<dir>       or a scenario folder of your own
  scenario.set=[a,b,...]    or a set of them: built-in names, scenario folders, folders of scenario folders
  agents.count=<n>          ego vehicles (default: the run's)
  agent.max_episode_steps=<n>   (default: the run's)
  sample_actions=true|false [false] the policy samples its actions as in training, instead of
                            taking the most likely one (seeded: the same run gives the same figures)
  sample_only=<names>       [all] with sample_actions=true and the continuous agent: sample only these
                            action components (comma-separated: throttle, brake, steering), the mean
                            for the others; which component's noise changes the driving
  gif=true|false            [true] write rollout.gif of the policy's first episode on each scenario
  envision=true|false       [false] stream the policy's episodes, in real time, to an Envision server
  envision_endpoint=<ws://host:port>  [ws://localhost:8081]
  envision_record=true|false  [false] save the policy's episodes as an Envision replay

Each scenario is evaluated on its own, every policy on the same seeds: eval.json has its figures
under `per_scenario`, with the policy's `ratio_to_keep_lane` (its mean return over keep-lane's), and
`ratio_to_keep_lane_mean` over the scenarios; `policies` pools the episodes of every scenario.

The policy is the checkpoint's RLModules acting deterministically (argmax / mean action) unless
sample_actions=true; the baselines are uniformly random actions and keep-lane (see
`smarts_rl.evaluation.policies`). Everything goes to `<run dir>/eval/<timestamp>/`: eval.json,
rollout.gif, envision_replay.jsonl.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import shutil
import sys
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Optional
from urllib.parse import urlparse

from omegaconf import OmegaConf
from omegaconf.errors import OmegaConfBaseException

from smarts_rl.errors import USAGE_EXIT_CODE, UsageError, one_line
from smarts_rl.run_dir.layout import ENVISION_RECORDS, EVAL_FILE, GIF_FILE, eval_root, replay_file, user_path

PROGRAM = "evaluate"
POLICIES = ("policy", "random", "keep_lane")
# Keys that change the run's own config for the evaluation.
RUN_OVERRIDES = ("scenario", "scenario.name", "scenario.path", "scenario.set", "agents.count", "agent.max_episode_steps")
ENVISION_SIM_NAME = "smarts_rl_eval"


@dataclass
class Options:
    run: str = ""
    checkpoint: str = "best"
    episodes: int = 10
    seed: Optional[int] = None
    sample_actions: bool = False
    sample_only: str = ""
    gif: bool = True
    envision: bool = False
    envision_endpoint: str = "ws://localhost:8081"
    envision_record: bool = False


def parse(argv: list[str], known: type = Options, run_overrides: tuple = RUN_OVERRIDES) -> tuple:
    """`key=value` arguments → (options, overrides of the run's config)."""
    options, overrides = [], {}
    for arg in argv:
        key, sep, value = arg.partition("=")
        if not sep or not key:
            raise UsageError(f"arguments take the form key=value; got {arg!r}")
        if key in run_overrides:
            overrides[key] = value
        elif key in known.__dataclass_fields__:
            options.append(arg)
        else:
            keys = [*known.__dataclass_fields__, *run_overrides]
            raise UsageError(f"unknown argument {key!r} (expected one of: {', '.join(keys)})")
    try:
        parsed = OmegaConf.to_object(OmegaConf.merge(OmegaConf.structured(known), OmegaConf.from_dotlist(options)))
    except OmegaConfBaseException as exc:
        raise UsageError(one_line(exc)) from None
    return parsed, overrides


def evaluation_config(run_dir: Path, overrides: dict, cwd: Path):
    """The run's typed config with the evaluation's overrides (a transfer scenario, ...) applied."""
    from smarts_rl.config import settings
    from smarts_rl.scenarios.sets import absolute_entries
    from smarts_rl.scenarios.build import ScenarioError
    from smarts_rl.run_dir.trained_run import run_config

    cfg = run_config(run_dir)
    scenario, name, path, entries = (
        overrides.get(k) for k in ("scenario", "scenario.name", "scenario.path", "scenario.set")
    )
    if sum(x is not None for x in (scenario, path, entries)) > 1 or (scenario is not None and name is not None):
        raise UsageError("give one of scenario=<name>, scenario.path=<dir> or scenario.set=[...] "
                         "(with an optional scenario.name)")
    if entries is not None:
        cfg.scenario = {"name": name or "held_out", "path": None, "set": absolute_entries(parse_list(entries), cwd)}
    elif path is not None:
        folder = user_path(path, cwd)
        cfg.scenario = {"name": name or folder.name, "path": str(folder)}
    elif scenario is not None or name is not None:
        cfg.scenario = {"name": scenario or name, "path": None}
    for key in ("agents.count", "agent.max_episode_steps"):
        if key in overrides:
            OmegaConf.update(cfg, key, overrides[key])
    try:
        return settings(cfg)
    except (ValueError, ScenarioError, OmegaConfBaseException) as exc:
        raise UsageError(one_line(exc)) from None


def parse_list(value: str) -> list[str]:
    """A command line's `[a,b]` as a list of strings."""
    try:
        parsed = OmegaConf.to_container(OmegaConf.from_dotlist([f"entries={value}"]))["entries"]
    except OmegaConfBaseException as exc:
        raise UsageError(f"scenario.set={value}: {one_line(exc)}") from None
    if not isinstance(parsed, list):
        raise UsageError(f"scenario.set={value}: expected a list, e.g. scenario.set=[loop,merge]")
    return [str(entry) for entry in parsed]


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


def sampled_components(options: Options, agent: str) -> Optional[list[str]]:
    """The action components `sample_only` names, checked; None when it is not given."""
    if not options.sample_only:
        return None
    if not options.sample_actions:
        raise UsageError("sample_only needs sample_actions=true")
    if agent != "continuous":
        raise UsageError(f"sample_only applies to the continuous agent's actions; this run's agent is {agent}")
    from smarts_rl.agents.continuous import ACTION_NAMES

    names = [n.strip() for n in options.sample_only.split(",") if n.strip()]
    unknown = sorted(set(names) - set(ACTION_NAMES))
    if unknown or not names:
        raise UsageError(f"sample_only: unknown action component(s) {unknown or names!r}; "
                         f"expected some of {', '.join(ACTION_NAMES)}")
    return [n for n in ACTION_NAMES if n in names]


def check_envision_server(endpoint: str) -> None:
    """Fail now, in one line, if no Envision server answers (SMARTS would only log a warning)."""
    parsed = urlparse(endpoint)
    if parsed.scheme not in ("ws", "wss") or not parsed.hostname:
        raise UsageError(f"Envision endpoint {endpoint}: expected ws://host:port")
    url = f"{'https' if parsed.scheme == 'wss' else 'http'}://{parsed.netloc}/simulations"
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            json.load(response)
    except (OSError, ValueError, urllib.error.URLError) as exc:
        reason = getattr(exc, "reason", exc)
        raise UsageError(
            f"no Envision server answers at {endpoint} ({reason}); start one with "
            f"`python -m smarts_rl.envision_server --port {parsed.port or 80}` "
            f"or `scl envision start -p {parsed.port or 80}`"
        ) from None


def evaluate(argv: list[str], cwd: Path) -> dict:
    from smarts_rl.scenarios.sets import build_scenarios, scenario_sources
    from smarts_rl.run_dir.trained_run import find_checkpoint, open_run

    options, overrides = parse(argv)
    if options.episodes < 1:
        raise UsageError(f"episodes must be >= 1, got {options.episodes}")
    run_dir = open_run(options.run, cwd)
    cfg = evaluation_config(run_dir, overrides, cwd)
    sources = scenario_sources(cfg.scenario, cwd=cwd)
    checkpoint = find_checkpoint(run_dir, options.checkpoint, cwd)
    if options.envision:
        check_envision_server(options.envision_endpoint)
    sampled = sampled_components(options, cfg.agent.name)

    # SMARTS, Ray and torch load only now, so that a mistake above is answered at once.
    from smarts_rl.agents import action_adapter
    from smarts_rl.agents.continuous import ACTION_NAMES
    from smarts_rl.env import agent_ids
    from smarts_rl.evaluation.episodes import summarize
    from smarts_rl.evaluation.policies import KeepLanePolicy, RandomPolicy, load_trained_policy
    from smarts_rl.evaluation.rollout_gif import RolloutRecorder, write_episodes_gif

    agents = agent_ids(cfg.agents.count)
    trained = load_trained_policy(checkpoint, cfg.agent, cfg.agents.policy, agents, sample=options.sample_actions,
                                  sample_dims=sampled and [ACTION_NAMES.index(n) for n in sampled])

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
            report["per_scenario"][name]["envision_replay"] = _collect_replay(eval_dir / ENVISION_RECORDS / name, replay)
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
                               envision_sim_name=ENVISION_SIM_NAME, **envision))
    records = []
    try:
        for i, seed in enumerate(seeds):
            records += run_episode(env, policy, seed, watch=watch_first if i == 0 else None, realtime=realtime)
    finally:
        env.close()
    if envision:
        _wait_for_envision_client()
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


def _wait_for_envision_client() -> None:
    """Envision's client sends and records states from child processes, which its teardown
    waits for only three seconds: let them finish the backlog of a long run."""
    for child in multiprocessing.active_children():
        child.join(timeout=120)


def _collect_replay(record_dir: Path, target: Path) -> Optional[str]:
    """Move Envision's recording (`<dir>/<unix time>/<sim>.jsonl`) to `target`."""
    recordings = sorted(record_dir.rglob("*.jsonl"))
    if not recordings:
        return None
    os.replace(recordings[-1], target)
    shutil.rmtree(record_dir, ignore_errors=True)
    return str(target)


def main(argv: list[str] | None = None) -> int:
    from smarts_rl.scenarios.build import ScenarioError

    argv = sys.argv[1:] if argv is None else argv
    if {"-h", "--help"} & set(argv):
        print(__doc__)
        return 0
    try:
        report = evaluate(argv, Path.cwd())
    except (UsageError, ScenarioError) as exc:
        print(f"{PROGRAM}: error: {exc}", file=sys.stderr)
        return USAGE_EXIT_CODE
    except KeyboardInterrupt:
        print(f"{PROGRAM}: interrupted", file=sys.stderr)
        return 130
    print_report(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
