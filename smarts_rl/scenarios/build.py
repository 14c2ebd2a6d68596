"""Scenario folders: finding them (``scenario_source``) and building them (``build_scenario``).

A scenario folder is what SMARTS loads: a road map (SUMO ``*.net.xml``, OpenDRIVE, ...)
and usually a ``scenario.py`` that declares traffic and ego missions with SMARTS sstudio.
Our built-in scenarios keep their map as SUMO plain XML (``*.nod.xml``, ``*.edg.xml``,
``*.con.xml``), which the build turns into ``map.net.xml`` with netconvert.

Building never writes into the source folder: the folder is copied into a cache directory
named after a hash of its contents and built there, once. Concurrent builds of the same
contents are serialised by a file lock, and a build counts only once its completion marker
is written, so no caller ever gets a half-built scenario.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import List, Optional

from filelock import FileLock

from smarts_rl.upstream.smarts import map_only_build_command, name_sumo_map_as_smarts_expects

PACKAGE_PARENT = Path(__file__).resolve().parents[2]  # the folder holding smarts_rl/ (and scenarios/)
BUILTIN_SCENARIOS = PACKAGE_PARENT / "scenarios"

# Bump when the build steps change, so old cache entries are no longer picked up.
BUILD_FORMAT = 3
BUILD_SEED = 42
COMPLETE_MARKER = "smarts-rl-build.json"

# Not part of a scenario's content: SMARTS's build output, Python's caches, lock files.
_IGNORED_DIRS = {"build", "__pycache__"}
_IGNORED_FILE_SUFFIXES = (".lock",)
_PLAIN_XML_INPUTS = {
    "--node-files": "*.nod.xml",
    "--edge-files": "*.edg.xml",
    "--connection-files": "*.con.xml",
    "--type-files": "*.typ.xml",
    "--tllogic-files": "*.tll.xml",
}


# Runs a scenario.py as SMARTS's scenario_builder does (seeded, with __file__ set), then
# places its ego missions on the map: SMARTS would otherwise first do that at env reset,
# where a mission on a misspelt road fails with a bare KeyError deep in a worker.
# Arguments: scenario.py, seed, a private folder for duarouter's logs.
_SCENARIO_PY_BUILD = """
import os, sys
from smarts.core import seed
from smarts.core.scenario import Scenario
from smarts_rl.upstream.smarts import report_duarouter_errors
report_duarouter_errors(sys.argv[3])
seed(int(sys.argv[2]))
path = os.path.abspath(sys.argv[1])
with open(path, "rb") as source:
    exec(compile(source.read(), path, "exec"), {"__file__": path})
Scenario.discover_agent_missions(os.getcwd(), [])
"""


# How a set's episodes choose their scenario (smarts_rl.scenarios.sets.ScenarioSampler).
SAMPLINGS = ("cycle", "uniform")


class ScenarioError(Exception):
    """A scenario folder that is missing, is not a scenario, or fails to build."""


@dataclass
class Settings:
    """The ``scenario`` config group."""

    name: str
    """Built-in scenario to use (a folder of ``scenarios/``), or a label for ``path``."""
    path: Optional[str] = None
    """Your own scenario folder instead of the built-in one; relative to where you ran the command."""
    set: Optional[List[str]] = None
    """Train on several: built-in names or folders (a folder of scenario folders stands for all of them)."""
    sampling: str = "cycle"
    """With `set`, each episode's scenario: `cycle` (shuffled round-robin, as SMARTS) or `uniform` (a seeded draw)."""
    weights: Optional[List[float]] = None
    """With `set`, one weight per scenario after expansion: the share of episodes each gets (null: equal)."""

    def __post_init__(self):
        if self.sampling not in SAMPLINGS:
            raise ScenarioError(f"scenario.sampling={self.sampling!r}: must be one of {', '.join(SAMPLINGS)}")
        if self.set is not None:
            if not self.set:
                raise ScenarioError("scenario.set=[]: the set is empty; name at least one scenario or folder")
            if self.path is not None:
                raise ScenarioError("give scenario.set or scenario.path, not both (a folder can be an entry of the set)")
            check_weights(self.weights)
            return  # `name` is only the run's label; the entries are checked where they are expanded
        if self.weights is not None:
            raise ScenarioError("scenario.weights applies to a scenario.set")
        if not isinstance(self.name, str) or not self.name.strip():
            raise ScenarioError(f"scenario.name={self.name!r}: must be a non-empty string")
        if self.path is not None and (not isinstance(self.path, str) or not self.path.strip()):
            raise ScenarioError(f"scenario.path={self.path!r}: must be null or a folder path")
        if self.path is None and self.name not in builtin_scenario_names():
            raise ScenarioError(
                f"{BUILTIN_SCENARIOS / self.name}: no built-in scenario {self.name!r} "
                f"(built-ins: {', '.join(builtin_scenario_names())}); "
                "set scenario.path to use a folder of your own"
            )


def check_weights(weights: Optional[List[float]]) -> None:
    if weights is None:
        return
    if any(w < 0 for w in weights):
        raise ScenarioError(f"scenario.weights={list(weights)}: a weight cannot be negative")
    if not any(w > 0 for w in weights):
        raise ScenarioError(f"scenario.weights={list(weights)}: at least one weight must be > 0")


def builtin_scenario_names() -> List[str]:
    """Names of the scenarios shipped in ``scenarios/``."""
    if not BUILTIN_SCENARIOS.is_dir():
        return []
    return sorted(p.name for p in BUILTIN_SCENARIOS.iterdir() if looks_like_scenario(p))


def scenario_source(settings: Settings, cwd: Path) -> Path:
    """The absolute scenario folder the settings name; cheap, starts no process.
    (A `scenario.set`'s folders: `smarts_rl.scenarios.sets.scenario_sources`.)"""
    if settings.set is not None:
        raise ScenarioError(f"scenario.set={settings.set}: this takes one scenario (scenario=<name> or scenario.path)")
    if settings.path is None:
        source = BUILTIN_SCENARIOS / settings.name
    else:
        source = Path(cwd) / Path(settings.path).expanduser()
    source = source.resolve()
    _check_scenario_folder(source)
    return source


def default_cache_root() -> Path:
    """Where builds go: ``scenarios/`` in ``$SMARTS_RL_CACHE``, else in ``$XDG_CACHE_HOME/smarts-rl``,
    else in ``~/.cache/smarts-rl``."""
    root = os.environ.get("SMARTS_RL_CACHE")
    if not root:
        xdg = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
        root = Path(xdg) / "smarts-rl"
    return Path(root).expanduser().resolve() / "scenarios"


def build_scenario(source: Path, cache_root: Optional[Path] = None) -> Path:
    """Build the scenario folder ``source`` (once per content); return the folder SMARTS should load."""
    source = Path(source).resolve()
    _check_scenario_folder(source)
    cache_root = Path(cache_root).resolve() if cache_root else default_cache_root()
    cache_root.mkdir(parents=True, exist_ok=True)

    files = _content_files(source)
    key = f"{_safe_name(source.name)}-{_content_hash(source, files)[:16]}"
    target = cache_root / key
    if _is_complete(target):
        return target

    with FileLock(str(cache_root / f"{key}.lock")):
        if _is_complete(target):  # built by another process while we waited
            return target
        # SMARTS's build pickles absolute paths (e.g. a scenario.py's MapSpec), so a scenario
        # cannot be built elsewhere and moved: it is built in place, under the lock, and
        # becomes visible only when its marker is written.
        shutil.rmtree(target, ignore_errors=True)  # left by a build that died
        log_path = cache_root / f"{key}.log"
        try:
            _copy(source, files, target)
            _build_in_place(source, target, log_path)
        except BaseException:
            shutil.rmtree(target, ignore_errors=True)
            raise
        _write_marker(target, source)
    return target


def _check_scenario_folder(source: Path):
    if not source.exists():
        raise ScenarioError(f"{source}: scenario folder does not exist")
    if not source.is_dir():
        raise ScenarioError(f"{source}: not a folder (a scenario is a folder with a map)")
    if not looks_like_scenario(source):
        raise ScenarioError(
            f"{source}: not a scenario folder (found neither scenario.py, a road map such as "
            "map.net.xml, nor SUMO plain-XML *.nod.xml + *.edg.xml)"
        )


def looks_like_scenario(folder: Path) -> bool:
    if not folder.is_dir():
        return False
    return (
        (folder / "scenario.py").is_file()
        or _has_plain_xml_map(folder)
        or _has_smarts_map(folder)
    )


def _has_plain_xml_map(folder: Path) -> bool:
    return any(folder.glob("*.nod.xml")) and any(folder.glob("*.edg.xml"))


def _has_smarts_map(folder: Path) -> bool:
    from smarts.core.default_map_builder import MapType, find_mapfile_in_dir

    map_type, _ = find_mapfile_in_dir(str(folder))
    return map_type != MapType.Unknown


def _content_files(source: Path) -> List[Path]:
    """The files that make up the scenario, relative to ``source``, in a stable order."""
    files = []
    for root, dirs, names in os.walk(source):
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d not in _IGNORED_DIRS)
        for name in sorted(names):
            if name.startswith(".") or name.endswith(_IGNORED_FILE_SUFFIXES):
                continue
            files.append((Path(root) / name).relative_to(source))
    return files


def _content_hash(source: Path, files: List[Path]) -> str:
    digest = hashlib.sha256()
    # The tools' versions are part of the content: a SMARTS or SUMO upgrade rebuilds.
    for part in (
        f"format={BUILD_FORMAT}",
        f"smarts={importlib.metadata.version('smarts')}",
        f"sumo={importlib.metadata.version('eclipse-sumo')}",
    ):
        digest.update(part.encode() + b"\0")
    for relative in files:
        digest.update(relative.as_posix().encode() + b"\0")
        with open(source / relative, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                digest.update(chunk)
        digest.update(b"\0")
    return digest.hexdigest()


def _safe_name(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", name) or "scenario"


def _is_complete(target: Path) -> bool:
    return (target / COMPLETE_MARKER).is_file()


def _copy(source: Path, files: List[Path], target: Path):
    target.mkdir(parents=True)
    for relative in files:
        (target / relative).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source / relative, target / relative)


def _build_in_place(source: Path, target: Path, log_path: Path):
    with open(log_path, "w") as log, tempfile.TemporaryDirectory() as duarouter_logs:
        if _has_plain_xml_map(target) and not any(target.glob("*.net.xml")):
            _run(_netconvert_command(target), target, log, source, "netconvert failed")
        name_sumo_map_as_smarts_expects(target)
        if (target / "scenario.py").is_file():
            command = [sys.executable, "-c", _SCENARIO_PY_BUILD, "scenario.py", str(BUILD_SEED)]
            _run(command + [duarouter_logs], target, log, source, "scenario.py failed")
        else:
            _run(map_only_build_command(), target, log, source, "map failed to build")

    if not (target / "build" / "map" / "map.glb").is_file():
        raise ScenarioError(
            f"{source}: the build made no road map (is the map inside the folder, and does "
            f"scenario.py's MapSpec point at it?) (build log: {log_path})"
        )


def _netconvert_command(folder: Path) -> List[str]:
    command = ["netconvert"]
    for option, pattern in _PLAIN_XML_INPUTS.items():
        inputs = sorted(p.name for p in folder.glob(pattern))
        if inputs:
            command += [option, ",".join(inputs)]
    # U-turn links would give SMARTS's route planner and SUMO's cars turn-around routes;
    # keeping the source coordinates makes the XML readable against the built map.
    return command + [
        "--no-turnarounds", "true",
        "--offset.disable-normalization", "true",
        "--output-file", "map.net.xml",
    ]


def _run(command: List[str], cwd: Path, log, source: Path, what: str):
    log.write(f"$ {' '.join(command)}\n")
    log.flush()
    result = subprocess.run(
        command,
        cwd=cwd,
        env=sumo_tools_environment(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    log.write(result.stdout)
    log.flush()
    if result.returncode != 0:
        reason = _last_useful_line(result.stdout)
        raise ScenarioError(f"{source}: {what}: {reason} (build log: {log.name})")


def sumo_tools_environment() -> dict:
    """This process's environment with eclipse-sumo's tools on PATH and smarts_rl importable.

    SMARTS calls netconvert by its bare name when it shifts a map.
    """
    import sumo

    env = dict(os.environ)
    env["SUMO_HOME"] = sumo.SUMO_HOME
    env["PATH"] = os.pathsep.join([str(Path(sumo.SUMO_HOME) / "bin"), env.get("PATH", "")])
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [env.get("PYTHONPATH"), str(PACKAGE_PARENT)]))
    return env


def _last_useful_line(output: str) -> str:
    """The line that says what failed: the last error line, else the last line."""
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    errors = [line for line in lines if re.match(r"^([\w.]*(Error|Exception|Exit)\b|Error:)", line)]
    return (errors or lines or ["no output"])[-1]


def _write_marker(target: Path, source: Path):
    marker = target / COMPLETE_MARKER
    partial = target / f".{COMPLETE_MARKER}.partial"
    partial.write_text(json.dumps({"source": str(source), "format": BUILD_FORMAT}, indent=1) + "\n")
    os.replace(partial, marker)
