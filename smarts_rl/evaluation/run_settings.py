"""A trained run's settings as `evaluate` and `export` use them: its `.hydra/config.yaml`, typed,
with the evaluation's own choices (another scenario, agent count or episode length) applied."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import List, Optional

from smarts_rl.errors import UsageError, one_line
from smarts_rl.run_dir.layout import user_path

SCENARIO_CHOICE = "give one of scenario=<name>, scenario.path=<dir> or scenario.set=[...] (with an optional scenario.name)"


@dataclass
class ScenarioChoice:
    """Where to evaluate (none of them: every scenario of the run's own set)."""

    name: Optional[str] = None
    """A built-in scenario (scenario=<name> says the same), or the label of path or set."""
    path: Optional[str] = None
    """A scenario folder of your own."""
    set: Optional[List[str]] = None
    """A set: built-in names, scenario folders, folders of scenario folders."""


def run_settings(run_dir: Path, cwd: Path, scenario: Optional[ScenarioChoice] = None,
                 agents_count: Optional[int] = None, max_episode_steps: Optional[int] = None):
    """The run's typed config (`smarts_rl.config.Settings`) with these choices applied."""
    from omegaconf.errors import OmegaConfBaseException

    from smarts_rl.config import settings
    from smarts_rl.run_dir.trained_run import run_config
    from smarts_rl.scenarios.build import ScenarioError
    from smarts_rl.scenarios.sets import absolute_entries

    cfg = run_config(run_dir)
    scenario = scenario or ScenarioChoice()
    name, path, entries = scenario.name, scenario.path, scenario.set
    if path is not None and entries is not None:
        raise UsageError(SCENARIO_CHOICE)
    if entries is not None:
        cfg.scenario = {"name": name or "held_out", "path": None, "set": absolute_entries(entries, cwd)}
    elif path is not None:
        folder = user_path(path, cwd)
        cfg.scenario = {"name": name or folder.name, "path": str(folder)}
    elif name is not None:
        cfg.scenario = {"name": name, "path": None}
    if agents_count is not None:
        cfg.agents.count = agents_count
    if max_episode_steps is not None:
        cfg.agent.max_episode_steps = max_episode_steps
    try:
        return settings(cfg)
    except (ValueError, ScenarioError, OmegaConfBaseException) as exc:
        raise UsageError(one_line(exc)) from None
