"""A set of scenarios to train on: expanding `scenario.set` into named folders, and choosing one per episode.

Expansion follows SMARTS (`Scenario.get_scenario_list`): an entry is a built-in name or a folder;
a folder is one scenario, or else the scenario folders directly inside it. Names are folder names,
made safe for metric keys and unique within the set (`4lane`, `4lane_2`).

Choosing follows SMARTS's `Scenario.scenario_variations` in spirit: `cycle` goes round the set in a
shuffled order, `uniform` draws each episode's scenario independently; `weights` skews either.
Each (env runner, sub-env) starts at its own place in the cycle, or draws from its own stream,
so that the simulations of a run do not all drive the same scenario at the same time. Within a
scenario, SMARTS still steps through its traffic and mission variations in turn (`SmartsEnv`).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Optional, Sequence

import numpy as np

from smarts_rl.scenarios.build import (
    BUILTIN_SCENARIOS,
    SAMPLINGS,
    ScenarioError,
    Settings,
    build_scenario,
    builtin_scenario_names,
    looks_like_scenario,
    scenario_source,
)

# Mixed into the seed, so that the scenario draws are a stream of their own (not SMARTS's).
_SAMPLER_STREAM = 20


def scenario_sources(settings: Settings, cwd: Path) -> dict[str, Path]:
    """The run's scenarios as {name: absolute source folder}, in the set's order; checked, cheap.

    Without `scenario.set` that is the one scenario `scenario.name`/`scenario.path` names."""
    if settings.set is None:
        source = scenario_source(settings, cwd)
        return {metric_name(settings.name if settings.path is None else source.name): source}
    seen: dict[Path, str] = {}  # folder -> the entry it came from
    for entry in settings.set:
        for folder in expand_entry(entry, cwd):
            if folder in seen:
                raise ScenarioError(f"scenario.set: {folder} is in the set twice ({seen[folder]} and {entry})")
            seen[folder] = entry
    folders = list(seen)
    named = dict(zip(unique_names([f.name for f in folders]), folders))
    if settings.weights is not None and len(settings.weights) != len(named):
        raise ScenarioError(
            f"scenario.weights has {len(settings.weights)} weight(s) for {len(named)} scenario(s) "
            f"({', '.join(named)}): give one per scenario, in that order"
        )
    return named


def absolute_entries(entries: Sequence[str], cwd: Path) -> list[str]:
    """The set's folders as absolute paths, for processes that do not share our cwd. Built-in
    names, and bare names that are no folder here (to be reported as unknown names), stay as they are."""
    out = []
    for entry in map(str, entries):
        bare = "/" not in entry and (entry in builtin_scenario_names() or not (Path(cwd) / entry).exists())
        out.append(entry if bare else str((Path(cwd) / Path(entry).expanduser()).resolve()))
    return out


def expand_entry(entry: str, cwd: Path) -> list[Path]:
    """The scenario folders one entry of `scenario.set` stands for."""
    if "/" not in entry and entry in builtin_scenario_names():
        return [BUILTIN_SCENARIOS / entry]
    folder = (Path(cwd) / Path(entry).expanduser()).resolve()
    if not folder.exists():
        if "/" not in entry:
            raise ScenarioError(
                f"scenario.set: no built-in scenario {entry!r} (built-ins: {', '.join(builtin_scenario_names())}) "
                "and no such folder"
            )
        raise ScenarioError(f"scenario.set: {folder}: no such folder")
    if not folder.is_dir():
        raise ScenarioError(f"scenario.set: {folder}: not a folder (a scenario is a folder with a map)")
    if looks_like_scenario(folder):
        return [folder]
    children = sorted(c for c in folder.iterdir() if not c.name.startswith(".") and looks_like_scenario(c))
    if not children:
        raise ScenarioError(
            f"scenario.set: {folder}: neither a scenario folder nor a folder of scenario folders "
            "(a scenario has a scenario.py, a road map such as map.net.xml, or SUMO plain-XML *.nod.xml + *.edg.xml)"
        )
    return children


def metric_name(name: str) -> str:
    """TensorBoard takes only letters, digits and `_.-` in a name; other characters become `_`."""
    return re.sub(r"[^A-Za-z0-9_.\-]", "_", name) or "scenario"


def unique_names(names: Sequence[str]) -> list[str]:
    out: list[str] = []
    for name in map(metric_name, names):
        candidate, n = name, 1
        while candidate in out:
            n += 1
            candidate = f"{name}_{n}"
        out.append(candidate)
    return out


class ScenarioSampler:
    """Which scenario each next episode drives: `next()` gives its index in `names`.

    `seed` is the run's seed (it fixes the cycle's shuffled order); `stream` tells this
    simulation apart from the others (its reset seed and env runner); `position` is its place
    among the run's simulations, where its walk round the cycle starts."""

    def __init__(self, count: int, sampling: str = "cycle", weights: Optional[Sequence[float]] = None,
                 seed: int = 0, stream: Sequence[int] = (), position: int = 0):
        if sampling not in SAMPLINGS:
            raise ValueError(f"scenario.sampling must be one of {list(SAMPLINGS)}, got {sampling!r}")
        self._sampling = sampling
        weights = np.ones(count) if weights is None else np.asarray(weights, dtype=float)
        self._p = weights / weights.sum()
        self._rng = np.random.default_rng([int(s) for s in (*stream, _SAMPLER_STREAM)])
        # Smooth weighted round-robin (as nginx balances servers): with equal weights a plain
        # round-robin in the shuffled order; otherwise each scenario's share is its weight's.
        self._order = np.random.default_rng([int(seed), _SAMPLER_STREAM]).permutation(count)
        self._credit = np.zeros(count)
        for _ in range(position % max(1, self._period())):
            self._next_in_cycle()

    def next(self) -> int:
        if self._sampling == "uniform":
            return int(self._rng.choice(len(self._p), p=self._p))
        return self._next_in_cycle()

    def _next_in_cycle(self) -> int:
        p = self._p[self._order]
        self._credit += p
        # The first of (nearly) equals: the shuffled order decides ties, whatever the rounding.
        chosen = int(np.flatnonzero(self._credit >= self._credit.max() - 1e-9)[0])
        self._credit[chosen] -= 1.0
        return int(self._order[chosen])

    def _period(self) -> int:
        """Steps the start may be moved by: enough to stagger the simulations over the whole set."""
        return len(self._p) if np.allclose(self._p, self._p[0]) else 10 * len(self._p)


def build_scenarios(sources: dict[str, Path], cache_root: Optional[Path] = None) -> dict[str, Path]:
    """Build every scenario of the set (each once per content, see `build_scenario`): {name: built folder}.

    A scenario that fails to build fails the lot, in one line naming it and its build log."""
    built = {}
    for name, source in sources.items():
        try:
            built[name] = build_scenario(source, cache_root)
        except ScenarioError as exc:
            raise ScenarioError(f"scenario {name}: {exc}" if len(sources) > 1 else str(exc)) from None
    return built
