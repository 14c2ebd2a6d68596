"""`python -m smarts_rl.check_env [hydra overrides] [steps=500]`

Composes the same config as training, builds the scenario, and steps our env with a simple
policy (keep-lane for `agent=laner`, uniform random controls otherwise) side by side with plain
SMARTS on the same scenario, agent interface, episodes and actions (`smarts_rl/bench_harness/throughput.py`
says how each is timed). The last line printed is JSON.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from smarts_rl.agents.observation import OBS_DIM

PROGRAM = "check_env"
DEFAULT_STEPS = 500


def split_steps(argv: list[str]) -> tuple[int, list[str]]:
    """`steps=N` is ours; everything else is a Hydra override."""
    steps, overrides = DEFAULT_STEPS, []
    for arg in argv:
        if arg.startswith("steps="):
            value = arg.split("=", 1)[1]
            if not value.isdigit() or int(value) < 1:
                raise ValueError(f"steps must be a positive integer, got {value!r}")
            steps = int(value)
        else:
            overrides.append(arg)
    return steps, overrides


def run(argv: list[str]) -> dict:
    from smarts_rl.agents import action_adapter
    from smarts_rl.config import compose_config, settings
    from smarts_rl.scenarios.build import build_scenario, scenario_source
    from smarts_rl.bench_harness.throughput import measure

    steps, overrides = split_steps(argv)
    cfg = settings(compose_config(overrides))
    source = scenario_source(cfg.scenario, cwd=Path.cwd())
    built = build_scenario(source)
    timing = measure(built, cfg.agent, cfg.agents.count, cfg.seed, steps)
    return {
        "scenario": cfg.scenario.name if cfg.scenario.path is None else str(source),
        "agents": cfg.agents.count,
        **timing,
        "obs_dim": OBS_DIM,
        "action_space": repr(action_adapter(cfg.agent).action_space()),
    }


def main(argv: list[str] | None = None) -> int:
    from smarts_rl.errors import USAGE_EXIT_CODE, one_line

    try:
        result = run(sys.argv[1:] if argv is None else argv)
    except KeyboardInterrupt:
        print(f"{PROGRAM}: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # any failure: one clear line, not a traceback
        print(f"{PROGRAM}: error: {one_line(exc)}", file=sys.stderr)
        return USAGE_EXIT_CODE
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
