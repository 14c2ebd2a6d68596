"""Wrapper overhead of SmartsEnv over plain SMARTS, for every built-in scenario and agent.

    python bench/env_throughput.py [--steps 1000] [--agents 1]

For each (scenario, agent) pair, as `check_env` measures it: steps/s of our env, of SMARTS's own
HiWayEnvV1 on the same steps, `wrapper_overhead` = 1 - ours / plain, and plain SMARTS run on its
own side by side (`raw_alone_steps_per_s`). The last line printed is one JSON object.
Target: wrapper_overhead <= 0.05 everywhere.
"""

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from smarts_rl.config import compose_config, group_options, settings  # noqa: E402
from smarts_rl.scenarios import build_scenario, scenario_source  # noqa: E402
from smarts_rl.throughput import measure  # noqa: E402

TARGET = 0.05


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
            built = build_scenario(scenario_source(cfg.scenario, cwd=Path.cwd()))
            result = {"scenario": scenario, "agent": agent,
                      **measure(built, cfg.agent, args.agents, cfg.seed, args.steps)}
            print(f"{scenario:<13} {agent:<11} ours {result['env_steps_per_s']:6.1f}/s  "
                  f"plain {result['raw_steps_per_s']:6.1f}/s  overhead {result['wrapper_overhead']:+.3f}  "
                  f"(plain SMARTS alone {result['raw_alone_steps_per_s']:6.1f}/s)",
                  flush=True)
            results.append(result)
    worst = max(r["wrapper_overhead"] for r in results)
    print(json.dumps({
        "bench": "env_throughput", "agents": args.agents, "steps": args.steps,
        "results": results, "max_wrapper_overhead": worst, "target": TARGET, "pass": worst <= TARGET,
        "wall_s": round(time.monotonic() - start, 1),
    }))


if __name__ == "__main__":
    main()
