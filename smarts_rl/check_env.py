"""`python -m smarts_rl.check_env [train.py overrides] [steps=500]`, or
`smarts_rl.check_env(overrides=[...], steps=500)`

Composes the same config as training, builds the scenario, and steps our env with a simple
policy (keep-lane for `agent=laner`, uniform random controls otherwise) side by side with plain
SMARTS on the same scenario, agent interface, episodes and actions (`smarts_rl/bench_harness/throughput.py`
says how each is timed). The last line printed is JSON.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, List, Optional

from smarts_rl import command_line
from smarts_rl.errors import UsageError

PROGRAM = "check_env"


@dataclass
class Options:
    """What `check_env` takes: the command line's keys, and `smarts_rl.check_env`'s keyword arguments."""

    steps: int = 500
    """Env steps to take, in our env and in plain SMARTS each."""
    overrides: List[str] = field(default_factory=list)
    """train.py's overrides (scenario=merge, agent=continuous, agents.count=2, ...); on the command
    line, every key=value that is not one of these keys."""


@dataclass
class Plan:
    steps: int
    cfg: Any
    """The composed, typed training config."""
    source: Path
    """The scenario's folder."""


def check_env(options: Optional[Options] = None, /, **keys) -> dict:
    """Steps our env and plain SMARTS side by side; returns the JSON line's figures (`scenario`,
    `agents`, `steps`, `env_steps_per_s`, `raw_steps_per_s`, `wrapper_overhead`, `obs_dim`, ...).

    Takes the command line's keys as keyword arguments, or an `Options`:
    `check_env(overrides=["scenario=merge", "agent=continuous"], steps=100)`. Bad input raises
    UsageError, its message one line."""
    return run(check(command_line.typed_options(Options, options, keys)))


def check(options: Options) -> Plan:
    from smarts_rl.config import compose_config, settings
    from smarts_rl.scenarios.build import scenario_source

    if options.steps < 1:
        raise UsageError(f"steps must be a positive integer, got {options.steps}")
    cfg = settings(compose_config(list(options.overrides)))
    return Plan(options.steps, cfg, scenario_source(cfg.scenario, cwd=Path.cwd()))


def run(plan: Plan) -> dict:
    from smarts_rl.agents import action_adapter
    from smarts_rl.agents.observation import OBS_DIM
    from smarts_rl.scenarios.build import build_scenario
    from smarts_rl.bench_harness.throughput import measure

    cfg = plan.cfg
    timing = measure(build_scenario(plan.source), cfg.agent, cfg.agents.count, cfg.seed, plan.steps)
    return {
        "scenario": cfg.scenario.name if cfg.scenario.path is None else str(plan.source),
        "agents": cfg.agents.count,
        **timing,
        "obs_dim": OBS_DIM,
        "action_space": repr(action_adapter(cfg.agent).action_space()),
    }


def show(result: dict) -> None:
    print(json.dumps(result))


# Any failure is one line: a diagnostic's user wants the reason, not a traceback.
COMMAND = command_line.Command(PROGRAM, Options, __doc__, check=check, run=run, show=show,
                               rest="overrides", failures_are_one_line=True)


def main(argv: list[str] | None = None) -> int:
    return command_line.main(COMMAND, argv)


command_line.callable_module(check_env)

if __name__ == "__main__":
    raise SystemExit(main())
