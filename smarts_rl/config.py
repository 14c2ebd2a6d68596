"""The configuration: dataclass schemas behind every Hydra config group, and composition.

`conf/config.yaml` is validated by `Config` (which types the `agent` and `scenario` groups
directly). An `algo` or `scheduler` option names its implementation with `_target_`: a dataclass
subclassing the group's contract (`smarts_rl.algorithms.contract.Algorithm`,
`smarts_rl.schedulers.contract.Scheduler`), whose fields are the option's keys. `settings()` builds
it from the option's values, so an unknown key or a wrong type fails naming the key, and runs
every schema's `__post_init__` value checks. The core knows no option by name: a new one is a
yaml file (here or on `hydra.searchpath`) and the module it names.
"""

from __future__ import annotations

import dataclasses
import importlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, List, Optional

from hydra import compose, initialize_config_dir
from hydra.core.config_store import ConfigStore
from hydra.core.global_hydra import GlobalHydra
from omegaconf import MISSING, DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from smarts_rl.agents import AgentSettings
from smarts_rl.algorithms.contract import Algorithm
from smarts_rl.errors import one_line
from smarts_rl.scenarios.build import Settings as ScenarioSettings
from smarts_rl.run_dir.trained_run import CHECKPOINT_CHOICES
from smarts_rl.schedulers.contract import Scheduler

REPO_ROOT = Path(__file__).resolve().parents[1]
CONF_DIR = REPO_ROOT / "conf"
GROUPS = ("algo", "scheduler", "scenario", "agent")
# The groups whose options name their implementation (`_target_`), and the contract it must meet.
CONTRACTS = {"algo": Algorithm, "scheduler": Scheduler}
TARGET = "_target_"


@dataclass
class AgentsSettings:
    count: int = 1
    """Ego vehicles in each simulation, named agent_0, agent_1, ..."""
    policy: str = "shared"
    """`shared`: one policy drives every agent; `per_agent`: one policy per agent id."""

    def __post_init__(self):
        if self.count < 1:
            raise ValueError(f"agents.count must be >= 1, got {self.count}")
        if self.policy not in ("shared", "per_agent"):
            raise ValueError(f"agents.policy must be 'shared' or 'per_agent', got {self.policy!r}")


@dataclass
class StopSettings:
    training_iteration: Optional[int] = 30
    """Stop each trial after this many training iterations (null: no limit)."""
    timesteps_total: Optional[int] = None
    """Stop each trial after this many sampled env steps (null: no limit)."""
    time_total_s: Optional[float] = None
    """Stop each trial after this many seconds of training (null: no limit)."""

    def __post_init__(self):
        for key in ("training_iteration", "timesteps_total", "time_total_s"):
            value = getattr(self, key)
            if value is not None and value <= 0:
                raise ValueError(f"stop.{key} must be > 0 or null, got {value}")


@dataclass
class CheckpointSettings:
    frequency: int = 5
    """Checkpoint every this many iterations (PBT runs align it to the perturbation interval)."""
    num_to_keep: int = 3
    """Checkpoints kept per trial (the latest ones)."""

    def __post_init__(self):
        if self.frequency < 1:
            raise ValueError(f"checkpoint.frequency must be >= 1, got {self.frequency}")
        if self.num_to_keep < 1:
            raise ValueError(f"checkpoint.num_to_keep must be >= 1, got {self.num_to_keep}")


@dataclass
class EnvRunnerSettings:
    num_env_runners: int = 2
    """Sampling processes per trial (0: sample in the trial's own process)."""
    num_envs_per_env_runner: int = 1
    """SMARTS simulations stepped one after another inside each env runner."""
    num_cpus_per_env_runner: Optional[float] = None
    """CPUs Ray reserves per env runner (null: each trial's share split evenly over its processes)."""

    def __post_init__(self):
        if self.num_env_runners < 0:
            raise ValueError(f"env_runners.num_env_runners must be >= 0, got {self.num_env_runners}")
        if self.num_envs_per_env_runner < 1:
            raise ValueError(
                "env_runners.num_envs_per_env_runner must be >= 1, "
                f"got {self.num_envs_per_env_runner}"
            )
        if self.num_cpus_per_env_runner is not None and self.num_cpus_per_env_runner <= 0:
            raise ValueError(
                "env_runners.num_cpus_per_env_runner must be > 0 or null, "
                f"got {self.num_cpus_per_env_runner}"
            )


@dataclass
class FaultToleranceSettings:
    restart_failed_sub_environments: bool = True
    """Rebuild a runner's simulations when a step or reset raises (sumo died...); their episodes are dropped."""
    restart_failed_env_runners: bool = True
    """Start an env runner process again when it dies or its sampling raises."""
    max_num_env_runner_restarts: int = 20
    """Restarts allowed per env runner; one more failure fails the trial."""
    delay_between_env_runner_restarts_s: float = 5.0
    """Seconds a failed env runner waits before Ray restarts it."""
    max_trial_failures: int = 2
    """Times Tune restarts a failed trial from its latest checkpoint before giving up on it."""

    def __post_init__(self):
        if self.max_num_env_runner_restarts < 0:
            raise ValueError(
                f"fault_tolerance.max_num_env_runner_restarts must be >= 0, got {self.max_num_env_runner_restarts}"
            )
        if self.max_trial_failures < 0:
            raise ValueError(f"fault_tolerance.max_trial_failures must be >= 0, got {self.max_trial_failures}")
        if self.delay_between_env_runner_restarts_s < 0:
            raise ValueError(
                "fault_tolerance.delay_between_env_runner_restarts_s must be >= 0, "
                f"got {self.delay_between_env_runner_restarts_s}"
            )


@dataclass
class RaySettings:
    address: Optional[str] = None
    """null: start a local Ray sized to this machine; otherwise the address of a running cluster."""
    num_cpus: Optional[int] = None
    """CPUs the run uses: a local Ray's size, or at most this many of a cluster's (null: all)."""
    dashboard: bool = False
    """Start a local Ray's dashboard, on 127.0.0.1 only (needs `ray[default]`)."""
    wait_for_resources_s: Optional[float] = None
    """Give up (exit 1) when no trial could start for want of CPUs for this long (null: wait)."""

    def __post_init__(self):
        if self.num_cpus is not None and self.num_cpus < 1:
            raise ValueError(f"ray.num_cpus must be >= 1 or null, got {self.num_cpus}")
        if self.wait_for_resources_s is not None and self.wait_for_resources_s <= 0:
            raise ValueError(f"ray.wait_for_resources_s must be > 0 or null, got {self.wait_for_resources_s}")
        if self.address is not None and not str(self.address).strip():
            raise ValueError("ray.address must be host:port or null, got an empty string")
        if self.address is not None and self.dashboard:
            raise ValueError(
                "ray.dashboard applies to a local Ray; a cluster's dashboard is its head node's "
                "(ray start --head --include-dashboard=true --dashboard-host=127.0.0.1)"
            )


@dataclass
class Config:
    """Schema of `conf/config.yaml`."""

    algo: Any = MISSING
    scheduler: Any = MISSING
    scenario: ScenarioSettings = MISSING
    agent: AgentSettings = MISSING
    seed: int = 0
    """Base seed; env runners, their sub-envs and trials derive distinct seeds from it."""
    agents: AgentsSettings = field(default_factory=AgentsSettings)
    stop: StopSettings = field(default_factory=StopSettings)
    checkpoint: CheckpointSettings = field(default_factory=CheckpointSettings)
    env_runners: EnvRunnerSettings = field(default_factory=EnvRunnerSettings)
    fault_tolerance: FaultToleranceSettings = field(default_factory=FaultToleranceSettings)
    ray: RaySettings = field(default_factory=RaySettings)
    resume: Optional[str] = None
    """A run directory to continue (its own config is used; only the keys of how it samples may change)."""
    init_from: Optional[str] = None
    """A run or checkpoint directory whose policies (and value functions) this new run starts from."""
    init_checkpoint: str = "best"
    """With init_from a run directory: its best trial's checkpoint (`best`) or its newest (`latest`)."""
    callbacks: List[Any] = field(default_factory=list)
    """Tune callbacks of your own (loggers...), each `{_target_: my_package.MyCallback, <its arguments>}`."""

    def __post_init__(self):
        for i, callback in enumerate(self.callbacks):
            if not isinstance(callback, dict) or not isinstance(callback.get(TARGET), str):
                raise ValueError(f"callbacks[{i}] must be a mapping with a {TARGET} (a Tune Callback class), got {callback!r}")
        if self.init_checkpoint not in CHECKPOINT_CHOICES:
            raise ValueError(
                f"init_checkpoint must be best or latest, got {self.init_checkpoint!r} "
                "(name a checkpoint directory with init_from=<path>)"
            )


def register_configs() -> None:
    """Put the root schema into Hydra's ConfigStore (idempotent)."""
    ConfigStore.instance().store(name="config_schema", node=Config)


def option_class(group: str, values: dict) -> type:
    """The class an `algo` or `scheduler` option names by `_target_`, checked against its contract.

    A run directory written before options named their implementation has only `name`: its
    option's yaml among ours names it."""
    target = values.get(TARGET)
    label = f"{group}={values.get('name') or target}"
    if target is None:
        target = _shipped_target(group, values.get("name"))
    try:
        cls = import_target(target)
    except (ImportError, AttributeError, ValueError) as exc:
        raise ValueError(f"{label}: cannot import its {TARGET} {target} ({one_line(exc)})") from None
    contract = CONTRACTS[group]
    if not (isinstance(cls, type) and issubclass(cls, contract) and dataclasses.is_dataclass(cls)):
        raise ValueError(
            f"{label}: its {TARGET} {target} is not a dataclass subclassing {contract.__module__}.{contract.__name__}"
        )
    return cls


def import_target(target: str):
    """The object a `_target_` names (`package.module.Name`)."""
    module_name, _, name = str(target).rpartition(".")
    return getattr(importlib.import_module(module_name), name)


def _shipped_target(group: str, name) -> str:
    path = CONF_DIR / group / f"{name}.yaml"
    target = OmegaConf.load(path).get(TARGET) if isinstance(name, str) and path.is_file() else None
    if target is None:
        raise ValueError(f"{group}: the option names no {TARGET} (its implementation), and {name!r} is none of ours")
    return target


def group_options() -> dict[str, list[str]]:
    """The options a user can pick for each config group (the yaml files in `conf/`)."""
    return {g: sorted(p.stem for p in (CONF_DIR / g).glob("*.yaml")) for g in GROUPS}


def experiment_presets() -> list[str]:
    """Presets of several groups and keys at once, added with `+experiment=<name>`."""
    return sorted(p.stem for p in (CONF_DIR / "experiment").glob("*.yaml"))


def compose_config(overrides: list[str] = (), return_hydra_config: bool = False) -> DictConfig:
    """The same composition `train.py` does, without starting a Hydra run (no run dir)."""
    register_configs()
    GlobalHydra.instance().clear()
    try:
        with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
            return compose(
                config_name="config", overrides=list(overrides), return_hydra_config=return_hydra_config
            )
    finally:
        GlobalHydra.instance().clear()


def settings(cfg: DictConfig | dict) -> Config:
    """Typed, validated settings (every schema's `__post_init__` checks run).

    Works on a freshly composed config and on one loaded back from a run's
    `.hydra/config.yaml` (which has lost its types).
    """
    plain = OmegaConf.to_container(cfg) if isinstance(cfg, DictConfig) else dict(cfg)
    plain.pop("hydra", None)  # Hydra's own node only resolves inside a running job
    plain = OmegaConf.to_container(OmegaConf.create(plain), resolve=True)
    options = {}
    for group in CONTRACTS:
        values = dict(plain.pop(group, None) or {})
        cls = option_class(group, values)
        values.pop(TARGET, None)
        options[group] = _typed(cls, values, group)
    root = _typed(Config, {**plain, **{group: {} for group in CONTRACTS}}, None)
    root.algo, root.scheduler = options["algo"], options["scheduler"]
    return root


def algo_keys(cfg: Config) -> list[str]:
    """The algorithm's hyperparameters (what schedulers and searches may set per trial)."""
    return cfg.algo.hyperparameters()


def check_mutations(cfg: Config) -> None:
    """The hyperparameters a scheduler searches over must be hyperparameters of the algorithm."""
    for key, where in cfg.scheduler.searched_keys().items():
        if key not in algo_keys(cfg):
            raise ValueError(
                f"{where} is not a field of algo={cfg.algo.name} that a scheduler may set "
                f"(its hyperparameters: {', '.join(algo_keys(cfg))})"
            )


def _typed(schema, values: dict, prefix: str | None):
    try:
        return OmegaConf.to_object(OmegaConf.merge(OmegaConf.structured(schema), values))
    except OmegaConfBaseException as exc:
        key = ".".join(k for k in (prefix, getattr(exc, "full_key", None)) if k)
        message = (getattr(exc, "msg", None) or str(exc)).splitlines()[0]
        raise ValueError(f"{key}: {message}" if key else message) from None
