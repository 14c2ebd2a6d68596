"""The configuration: dataclass schemas behind every Hydra config group, and composition.

`conf/config.yaml` is validated by `Config` (which types the `agent` and `scenario` groups
directly); `conf/algo/<name>.yaml` and `conf/scheduler/<name>.yaml` pull their own schema
from Hydra's ConfigStore (`/schema/<group>/<name>`). So an unknown key or a wrong type fails
while Hydra composes, naming the key. Value checks live in each schema's
`__post_init__`, which `settings()` runs.
"""

from __future__ import annotations

import importlib
import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from hydra import compose, initialize_config_dir
from hydra.core.config_store import ConfigStore
from hydra.core.global_hydra import GlobalHydra
from omegaconf import MISSING, DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from smarts_rl.agents import AgentSettings
from smarts_rl.scenarios.build import Settings as ScenarioSettings
from smarts_rl.run_dir.trained_run import CHECKPOINT_CHOICES

REPO_ROOT = Path(__file__).resolve().parents[1]
CONF_DIR = REPO_ROOT / "conf"
ALGORITHMS = ("pg", "ppo")
SCHEDULERS = ("none", "pbt", "grid")
GROUPS = ("algo", "scheduler", "scenario", "agent")


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

    def __post_init__(self):
        if self.num_cpus is not None and self.num_cpus < 1:
            raise ValueError(f"ray.num_cpus must be >= 1 or null, got {self.num_cpus}")
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

    def __post_init__(self):
        if self.init_checkpoint not in CHECKPOINT_CHOICES:
            raise ValueError(
                f"init_checkpoint must be best or latest, got {self.init_checkpoint!r} "
                "(name a checkpoint directory with init_from=<path>)"
            )


def algorithm_module(name: str):
    return importlib.import_module(f"smarts_rl.algorithms.{name}")


def scheduler_module(name: str):
    return importlib.import_module(f"smarts_rl.schedulers.{name}")


def register_configs() -> None:
    """Put every schema into Hydra's ConfigStore (idempotent)."""
    store = ConfigStore.instance()
    store.store(name="config_schema", node=Config)
    for name in ALGORITHMS:
        store.store(group="schema/algo", name=name, node=algorithm_module(name).Settings)
    for name in SCHEDULERS:
        store.store(group="schema/scheduler", name=name, node=scheduler_module(name).Settings)


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
    for group, names in (("algo", ALGORITHMS), ("scheduler", SCHEDULERS)):
        name = (plain.get(group) or {}).get("name")
        if name not in names:
            raise ValueError(f"{group}.name must be one of {list(names)}, got {name!r}")
    algo = _typed(algorithm_module(plain["algo"]["name"]).Settings, plain.pop("algo"), "algo")
    scheduler = _typed(
        scheduler_module(plain["scheduler"]["name"]).Settings, plain.pop("scheduler"), "scheduler"
    )
    root = _typed(Config, {**plain, "algo": {}, "scheduler": {}}, None)
    root.algo, root.scheduler = algo, scheduler
    return root


def algo_keys(cfg: Config) -> list[str]:
    return [f.name for f in dataclasses.fields(cfg.algo) if f.name != "name"]


def check_mutations(cfg: Config) -> None:
    """The hyperparameters a scheduler searches over must be fields of the algorithm."""
    for group in ("hyperparam_mutations", "grid"):
        searched = getattr(cfg.scheduler, group, {}) or {}
        unknown = sorted(set(searched) - set(algo_keys(cfg)))
        if unknown:
            raise ValueError(
                f"scheduler.{group}.{unknown[0]} is not a field of algo={cfg.algo.name} "
                f"(fields: {', '.join(algo_keys(cfg))})"
            )


def _typed(schema, values: dict, prefix: str | None):
    try:
        return OmegaConf.to_object(OmegaConf.merge(OmegaConf.structured(schema), values))
    except OmegaConfBaseException as exc:
        key = ".".join(k for k in (prefix, getattr(exc, "full_key", None)) if k)
        message = (getattr(exc, "msg", None) or str(exc)).splitlines()[0]
        raise ValueError(f"{key}: {message}" if key else message) from None
