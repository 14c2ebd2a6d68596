"""Wrapper overhead of SmartsEnv over plain SMARTS, for every built-in scenario and agent.

    python bench/env_throughput.py [--steps 1000] [--agents 1]

For each (scenario, agent) pair, as `check_env` measures it: steps/s of our env, of SMARTS's own
HiWayEnvV1 on the same steps, `wrapper_overhead` = 1 - ours / plain, and plain SMARTS run on its
own side by side (`raw_alone_steps_per_s`), and our env's reset costs: `mean_reset_s`,
`warmup_steps_per_reset` (SMARTS steps each reset takes before the ego's first observation,
from the simulation's clock at that observation) and `reset_share` (reset seconds over all
seconds). And plain SMARTS as it ships against plain SMARTS with our speed patches
(`speed_up_simulation()`, which our env applies): `shipped_steps_per_s`, `patched_steps_per_s`
and `patch_speedup` (their ratio), each side a process of its own, taking turns every 25 steps.
The last line printed is one JSON object.
Targets: wrapper_overhead <= 0.05, warmup_steps_per_reset <= 5 and mean_reset_s <= 0.15 everywhere.
"""

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from smarts_rl.config import compose_config, group_options, settings  # noqa: E402
from smarts_rl.scenarios.build import build_scenario, scenario_source  # noqa: E402
from smarts_rl.bench_harness.throughput import measure, time_shipped_and_patched  # noqa: E402

TARGET = 0.05
WARMUP_TARGET = 5
RESET_TARGET_S = 0.15


def shipped_and_patched(built, agent, agents: int, seed: int, steps: int) -> dict:
    """Steps/s of plain SMARTS as it ships and with our speed patches, taking turns on the same steps."""
    shipped, patched = time_shipped_and_patched(built, agent, agents, seed, steps)
    return {"shipped_steps_per_s": round(shipped.steps_per_s, 2), "patched_steps_per_s": round(patched.steps_per_s, 2),
            "patch_speedup": round(patched.steps_per_s / shipped.steps_per_s, 3)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--agents", type=int, default=1)
    args = parser.parse_args()

    start, results = time.monotonic(), []
    options = group_options()
    for scenario in options["scenario"]:
        for agent in options["agent"]:
            cfg = settings(compose_config([f"scenario={scenario}", f"agent={agent}", f"agents.count={args.agents}"]))
            if cfg.scenario.set:  # a preset set of scenarios (scenario=mixed): each is measured on its own
                continue
            built = build_scenario(scenario_source(cfg.scenario, cwd=Path.cwd()))
            result = {"scenario": scenario, "agent": agent,
                      **measure(built, cfg.agent, args.agents, cfg.seed, args.steps),
                      **shipped_and_patched(built, cfg.agent, args.agents, cfg.seed, args.steps)}
            print(f"{scenario:<13} {agent:<11} ours {result['env_steps_per_s']:6.1f}/s  "
                  f"plain {result['raw_steps_per_s']:6.1f}/s  overhead {result['wrapper_overhead']:+.3f}  "
                  f"(plain SMARTS alone {result['raw_alone_steps_per_s']:6.1f}/s)  "
                  f"reset {result['mean_reset_s']:.3f} s, {result['warmup_steps_per_reset']:.1f} warm-up steps, "
                  f"{result['reset_share']:.0%} of the time; plain SMARTS as shipped "
                  f"{result['shipped_steps_per_s']:6.1f}/s, patched {result['patched_steps_per_s']:6.1f}/s "
                  f"(x{result['patch_speedup']:.3f})",
                  flush=True)
            results.append(result)
    worst = max(r["wrapper_overhead"] for r in results)
    most_warmup = max(r["warmup_steps_per_reset"] for r in results)
    slowest_reset = max(r["mean_reset_s"] for r in results)
    print(json.dumps({
        "bench": "env_throughput", "agents": args.agents, "steps": args.steps,
        "results": results, "max_wrapper_overhead": worst, "target": TARGET,
        "max_warmup_steps_per_reset": most_warmup, "warmup_target": WARMUP_TARGET,
        "max_mean_reset_s": slowest_reset, "reset_target_s": RESET_TARGET_S,
        "min_patch_speedup": min(r["patch_speedup"] for r in results),
        "pass": worst <= TARGET and most_warmup <= WARMUP_TARGET and slowest_reset <= RESET_TARGET_S,
        "wall_s": round(time.monotonic() - start, 1),
    }))


if __name__ == "__main__":
    main()
