"""`python -m smarts_rl.export run=<run dir> out=<dir> [checkpoint=best|latest|<path>]`, or
`smarts_rl.export(run=..., out=...)`: a trained policy as a small Python package that SMARTS users
load as an agent, with torch and without Ray.

`out` becomes the package (its folder name is the import name): a copy of the folder
smarts_rl/agents/ as it is, which imports no Ray and nothing else of smarts-rl, plus
  policy.json        the agent settings, each policy's network shape, the action space, provenance
  weights/<id>.pt    each policy network's torch state dict
  README.md
The package then behaves exactly as in training without installing smarts-rl (which needs Ray):
its `__init__.py` gives entry_point() → smarts.zoo AgentSpec, ExportedAgent, and registers
`<name>-v0`. The export checks that the plain-torch network gives the RLlib module's outputs.

`-m` exports every combination; each job needs its own out, e.g.
`-m checkpoint=best,latest 'out=exported/agent_${checkpoint}'`.
"""

from __future__ import annotations

import importlib.util
import json
import shutil
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Optional

from smarts_rl import command_line
from smarts_rl.errors import UsageError
from smarts_rl.run_dir.layout import user_path

PROGRAM = "export"
# The folder the package is a copy of (smarts_rl/agents/__init__.py says why it is one folder).
AGENT_FOLDER = Path(__file__).resolve().parent / "agents"
NOT_SHIPPED = ("__pycache__", "*.pyc")
VERIFY_SAMPLES = 512
VERIFY_TOLERANCE = 1e-5


@dataclass
class Options:
    """What `export` takes: the command line's keys, and `smarts_rl.export`'s keyword arguments."""

    run: str = ""
    """A run directory written by train.py (required)."""
    out: str = ""
    """The folder to write the package to, new or empty; its name is the import name (required)."""
    checkpoint: str = "best"
    """best (the best trial's, in summary.json), latest, or a checkpoint directory."""


@dataclass
class Plan:
    """A checked export: from which run and checkpoint, to where."""

    out: Path
    run_dir: Path
    cfg: Any
    checkpoint: Path


def export(options: Optional[Options] = None, /, **keys) -> dict:
    """Exports a trained run's policy as a SMARTS agent package; returns what it wrote: `out`,
    `name` (the import name), `policies`, `bytes`, `checkpoint`.

    Takes the command line's keys as keyword arguments, or an `Options` (keywords replace its
    values): `export(run="outputs/<date>/<time>", out="exported/loop_agent")`. Relative paths are
    from the working directory. Bad input raises UsageError, its message one line."""
    return run_export(check(command_line.typed_options(Options, options, keys)))


def check(options: Options, cwd: Optional[Path] = None) -> Plan:
    """Everything about the input that can be checked before Ray and torch load."""
    from smarts_rl.evaluation.run_settings import run_settings
    from smarts_rl.run_dir.trained_run import find_checkpoint, open_run

    cwd = cwd or Path.cwd()
    out = _checked_out(options.out, cwd)
    run_dir = open_run(options.run, cwd)
    return Plan(out, run_dir, run_settings(run_dir, cwd), find_checkpoint(run_dir, options.checkpoint, cwd))


def check_sweep(plans: list[Plan]) -> None:
    outs = [plan.out for plan in plans]
    if len(set(outs)) < len(outs):
        raise UsageError("every job of a multirun needs its own out=<dir>, e.g. "
                         "-m checkpoint=best,latest 'out=exported/agent_${checkpoint}'")


def run_export(plan: Plan) -> dict:
    from smarts_rl.evaluation.policies import action_postprocessing, check_spaces, load_modules

    out, run_dir, cfg, checkpoint = plan.out, plan.run_dir, plan.cfg, plan.checkpoint
    modules = load_modules(checkpoint)
    check_spaces(modules, cfg.agent, checkpoint)
    normalize, clip = action_postprocessing(checkpoint)

    activations = {module_id: module_activation(module, module_id) for module_id, module in modules.items()}
    networks = {module_id: plain_network(module, activations[module_id], module_id)
                for module_id, module in sorted(modules.items())}
    out.mkdir(parents=True, exist_ok=True)
    try:
        _write_package(out, cfg, run_dir, checkpoint, networks, activations, normalize, clip)
    except BaseException:
        shutil.rmtree(out, ignore_errors=True)
        raise
    size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    return {"out": str(out), "name": out.name, "policies": sorted(networks), "bytes": size, "checkpoint": str(checkpoint)}


def module_activation(module, module_id: str) -> str:
    """The hidden layers' activation, as the module was built with it (whichever algorithm made it)."""
    activation = (getattr(module, "model_config", None) or {}).get("fcnet_activation")
    if not isinstance(activation, str):
        raise UsageError(f"cannot export policy {module_id}: its module names no fcnet_activation")
    return activation


def plain_network(module, activation: str, module_id: str):
    """The module's policy network as a `PolicyNetwork`, checked to compute the same outputs."""
    import torch

    from smarts_rl.agents.policy_network import PolicyNetwork
    from smarts_rl.upstream.rllib import policy_head_outputs, policy_linear_layers

    theirs = policy_linear_layers(module)
    if theirs is None:
        raise UsageError(
            f"cannot export policy {module_id}: {type(module).__name__} is not RLlib's default "
            "actor-critic MLP module (separate policy and value networks)"
        )
    obs_dim = module.observation_space.shape[0]
    normalizes = getattr(module, "normalizes_observations", False)
    network = PolicyNetwork(obs_dim, [m.out_features for m in theirs[:-1]], activation, theirs[-1].out_features,
                            normalize_observations=normalizes)
    with torch.no_grad():
        for ours, source in zip(network.linear_layers(), theirs):
            ours.weight.copy_(source.weight)
            ours.bias.copy_(source.bias)
        if normalizes:
            network.obs_mean.copy_(module.obs_mean)
            network.obs_var.copy_(module.obs_var)
        network.eval()
        obs = torch.rand(VERIFY_SAMPLES, obs_dim, generator=torch.Generator().manual_seed(0)) * 2 - 1
        # The raw head: any log-std ceiling is applied after it and plays no part in the mean action.
        expected = policy_head_outputs(module, module.normalized(obs) if normalizes else obs)
        difference = float((network(obs) - expected).abs().max())
    if difference > VERIFY_TOLERANCE:
        raise UsageError(
            f"cannot export policy {module_id}: the plain MLP differs from the RLlib module by up to {difference:.2g} "
            "(the module is not Linear + activation layers then a Linear head)"
        )
    return network


def _checked_out(path: str, cwd: Path) -> Path:
    if not path:
        raise UsageError("out=<dir> is required: the folder to write the package to (its name is the import name)")
    out = user_path(path, cwd)
    if not out.name.isidentifier() or _names_another_module(out):
        raise UsageError(
            f"out={path}: the folder name {out.name!r} is the package's import name, so it must be a Python "
            "identifier that names no other module (e.g. out=exported/loop_agent)"
        )
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise UsageError(f"out={path}: {out} exists and is not empty; choose a new folder")
    return out


def _names_another_module(out: Path) -> bool:
    """Would `import <out.name>` find something else (torch, smarts, a standard module, ...)?"""
    spec = importlib.util.find_spec(out.name)
    if spec is None:
        return False
    # An empty `out` that is already importable from here (a namespace package) is fine.
    return [Path(p).resolve() for p in (spec.submodule_search_locations or [])] != [out]


def _write_package(out: Path, cfg, run_dir: Path, checkpoint: Path, networks: dict, activations: dict, normalize: bool,
                   clip: bool):
    import torch

    from smarts_rl.agents import action_adapter
    from smarts_rl.agents.observation import FEATURES

    shutil.copytree(AGENT_FOLDER, out, ignore=shutil.ignore_patterns(*NOT_SHIPPED), dirs_exist_ok=True)
    (out / "weights").mkdir()
    policies = {}
    for module_id, network in networks.items():
        weights = Path("weights") / f"{module_id}.pt"
        torch.save(network.state_dict(), out / weights)
        layers = network.linear_layers()
        policies[module_id] = {
            "weights": weights.as_posix(),
            "obs_dim": layers[0].in_features,
            "hidden": [layer.out_features for layer in layers[:-1]],
            "activation": activations[module_id],
            "outputs": layers[-1].out_features,
            "normalize_observations": hasattr(network, "obs_mean"),
        }
    space = action_adapter(cfg.agent).action_space()
    if hasattr(space, "n"):
        action = {"kind": "discrete", "n": int(space.n)}
    else:
        action = {"kind": "box", "low": space.low.tolist(), "high": space.high.tolist(),
                  "normalize_actions": normalize, "clip_actions": clip}
    metadata = {
        "format": 1,
        "exported_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "source": {"run": str(run_dir), "checkpoint": str(checkpoint), "algo": cfg.algo.name,
                   "scenario": cfg.scenario.name if cfg.scenario.path is None else cfg.scenario.path,
                   "agents": cfg.agents.count, "agents_policy": cfg.agents.policy},
        "agent": asdict(cfg.agent),
        "action": action,
        "policies": policies,
        "observation_features": list(FEATURES),
    }
    (out / "policy.json").write_text(json.dumps(metadata, indent=2) + "\n")
    (out / "README.md").write_text(_readme(out.name, metadata))


def _readme(name: str, metadata: dict) -> str:
    source, agent, action = metadata["source"], metadata["agent"], metadata["action"]
    ids = ", ".join(metadata["policies"])
    per_agent = len(metadata["policies"]) > 1
    choose = f'policy_id="{next(iter(metadata["policies"]))}"' if per_agent else ""
    acts = (
        "a lane command (`keep_lane`, `slow_down`, `change_lane_left`, `change_lane_right`): the most likely one"
        if action["kind"] == "discrete"
        else "`[throttle, brake, steering]` (float32): the mean of the policy's Gaussian"
        + (", mapped from [-1, 1] into the action bounds as RLlib did in training" if action["normalize_actions"] else "")
    )
    return f"""# {name}: a driving policy trained with smarts-rl, as a SMARTS agent

Trained with `{source['algo']}` on the `{source['scenario']}` scenario ({source['agents']} agent(s),
`agents.policy={source['agents_policy']}`), agent interface `{agent['name']}`; exported on
{metadata['exported_at']} from `{source['checkpoint']}`.

It needs SMARTS 2.0.1, torch and numpy: not Ray, not smarts-rl.

## Drive with it

```python
import sys
sys.path.insert(0, "<the folder that contains {name}/>")  # or set PYTHONPATH

from smarts.env.gymnasium.hiway_env_v1 import HiWayEnvV1
from {name} import entry_point

spec = entry_point({choose})  # a smarts.zoo AgentSpec (policies: {ids})
agent = spec.build_agent()
env = HiWayEnvV1(
    scenarios=["<a built SMARTS scenario folder>"],
    agent_interfaces={{"agent_0": spec.interface}},
    observation_options="unformatted",  # the agent reads SMARTS's raw Observation
    action_options="unformatted",
    headless=True,
)
observations, _ = env.reset()
done = False
while not done:
    actions = {{agent_id: agent.act(obs) for agent_id, obs in observations.items()}}
    observations, rewards, terminated, truncated, infos = env.step(actions)
    done = terminated["__all__"] or truncated["__all__"]
env.close()
```

Importing the package registers it with SMARTS's agent zoo, so
`smarts.zoo.registry.make("{name}:{name}-v0")` returns the same AgentSpec.

`spec.interface` is the `AgentInterface` the policy trained with: {action_name(action)} actions,
neighbourhood vehicles within {agent['neighbourhood_radius']} m, {agent['waypoints_lookahead']} waypoints of
lookahead, episodes of at most {agent['max_episode_steps']} steps (`entry_point(max_episode_steps=...)` changes
that). The policy only makes sense with this interface.

## What it does

`agent.act(observation)` encodes the observation into the 46 features listed in `policy.json`
(`observation.py` documents them), runs the policy network and returns {acts}.
No exploration: the same observation always gives the same action.

If your scenario has ego missions with via points, call
`from {name}.smarts_fixes import apply_runtime_workarounds; apply_runtime_workarounds()` before making
the env: SMARTS 2.0.1 crashes on them otherwise (see `smarts_fixes.py`).

## Files

| file | what |
|---|---|
| `policy.json` | agent settings, each policy network's shape, the action space, where it came from |
| `weights/*.pt` | the policy networks' weights (torch state dicts; no value network) |
| `__init__.py` | the agent settings and interface; `entry_point()`, `ExportedAgent`, zoo registration |
| `exported_agent.py` | `entry_point()`, `ExportedAgent`, `ExportedPolicy`: policy.json and the weights as a SMARTS agent |
| `policy_network.py` | the network (Linear + {policy_activation(metadata)} layers) and its deterministic action |
| `observation.py` | the observation encoder (46 features) |
| `laner.py`, `continuous.py` | the action adapters (this policy's: `{agent['name']}.py`) |
| `smarts_fixes.py` | fixes of SMARTS 2.0.1 bugs the agent meets while driving |

The Python files are smarts-rl's own `smarts_rl/agents/` folder, as trained with.
"""


def action_name(action: dict) -> str:
    return "lane (Discrete(4))" if action["kind"] == "discrete" else "continuous throttle/brake/steering"


def policy_activation(metadata: dict) -> str:
    return next(iter(metadata["policies"].values()))["activation"]


def print_export(result: dict) -> None:
    print(f"exported {', '.join(result['policies'])} from {result['checkpoint']}")
    print(f"written: {result['out']} ({result['bytes'] // 1024} KiB); use it: "
          f"PYTHONPATH={Path(result['out']).parent} python -c \"from {result['name']} import entry_point; spec = entry_point()\"")


COMMAND = command_line.Command(PROGRAM, Options, __doc__, check=check, run=run_export, show=print_export,
                               multirun=True, check_jobs=check_sweep)


def main(argv: list[str] | None = None) -> int:
    return command_line.main(COMMAND, argv)


command_line.callable_module(export)

if __name__ == "__main__":
    raise SystemExit(main())
