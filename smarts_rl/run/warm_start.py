"""`train.py init_from=<run dir | checkpoint dir>`: a new run whose policies start from a trained one.

A run directory means one of its checkpoints, `init_checkpoint=best` (its best trial's) or
`latest`, found as `evaluate` finds it (smarts_rl/run_dir/trained_run.py). Every trial of the new run
(each member of a PBT population, each grid point) builds its RLModules fresh and then takes their
state from the checkpoint: the policy and value networks, and the observation statistics of a
module that standardises its observations. The rest starts anew: iteration 0, the optimizer,
the learning-rate and log-std-ceiling schedules (the learner sets the ceiling from the run's own
schedule at its first update; the first batch is sampled as the checkpoint's policy acts). With `agents.policy=per_agent` and a checkpoint
of one (shared) policy, each agent's policy starts as a copy of it.

The driver checks the checkpoint before Ray starts: each module of the new run must have the same
layout as the one it is loaded from (spaces, hidden sizes, activation, observation statistics,
then every weight's name and shape, which covers a checkpoint of another algorithm), else the
run is refused naming what differs.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

from smarts_rl.errors import UsageError
from smarts_rl.run_dir.layout import HYDRA_FILE, RUN_CONFIG, SUMMARY_FILE, holds_config, user_directory
from smarts_rl.run_dir.trained_run import Keys, find_checkpoint
from smarts_rl.upstream.rllib import MODULES_IN_CHECKPOINT, checkpoint_modules, is_algorithm_checkpoint

INIT_KEYS = Keys(run="init_from", choice="init_checkpoint", path="init_from")
# A buffer the learner sets from the run's own schedule (actor_critic_module.py): not a weight.
SCHEDULED_BUFFERS = {"log_std_max"}


@dataclass(frozen=True)
class WarmStart:
    checkpoint: Path
    sources: dict  # module id in this run -> module id in the checkpoint


def find_init_checkpoint(init_from: str, choice: str, cwd: Path) -> Path:
    """The checkpoint `init_from` names: a checkpoint directory, or a run directory's best/latest one."""
    path = user_directory(init_from, cwd, "init_from")
    if is_algorithm_checkpoint(path):
        return path
    if holds_config(path):
        return find_checkpoint(path, choice, cwd, INIT_KEYS)
    raise UsageError(
        f"init_from={init_from}: {path} is neither a run directory of train.py (no {RUN_CONFIG}) "
        f"nor an RLlib checkpoint (no {MODULES_IN_CHECKPOINT})"
    )


def plan(cfg, cwd: Path) -> WarmStart | None:
    """Where each module of the run `cfg` describes starts from, checked; None without init_from."""
    if not cfg.init_from:
        return None
    checkpoint = find_init_checkpoint(cfg.init_from, cfg.init_checkpoint, cwd)
    # torch and RLlib load only now: a mistyped path is answered at once.
    trained, fresh = checkpoint_modules(checkpoint), fresh_modules(cfg)
    sources = module_sources(sorted(fresh), sorted(trained), checkpoint)
    for target, source in sources.items():
        check_layout(fresh[target], trained[source], cfg, f"init_from={checkpoint}: policy {source}")
    return WarmStart(checkpoint, sources)


def module_sources(targets: list[str], trained: list[str], checkpoint: Path) -> dict:
    """Each module takes the checkpoint's module of its id, or the checkpoint's only one."""
    if all(t in trained for t in targets):
        return {t: t for t in targets}
    if len(trained) == 1:
        return {t: trained[0] for t in targets}
    missing = ", ".join(t for t in targets if t not in trained)
    raise UsageError(
        f"init_from={checkpoint}: this run needs policies {', '.join(targets)}; the checkpoint has "
        f"{', '.join(trained)} and none for {missing} (agents.policy and agents.count must match those)"
    )


def fresh_modules(cfg) -> dict:
    """The RLModules the run's trials build, untrained (module id -> module)."""
    from smarts_rl.agents import action_adapter
    from smarts_rl.agents import observation
    from smarts_rl.upstream.ray import quiet_deprecations
    from smarts_rl.run.rllib_setup import build_algorithm_config

    # The env config is not read here: no scenario is needed.
    config = build_algorithm_config(cfg, Path("unused"))
    spaces = (observation.observation_space(), action_adapter(cfg.agent).action_space())
    spec = config.get_multi_rl_module_spec(spaces={m: spaces for m in config.policies}, inference_only=False)
    with quiet_deprecations():
        multi = spec.build()
    return {m: multi[m] for m in multi.keys()}


def check_layout(fresh, trained, cfg, what: str) -> None:
    """One line naming the first difference between a fresh module and the trained one it starts from."""
    if trained.observation_space != fresh.observation_space:
        raise UsageError(f"{what} reads observations {trained.observation_space}, this run's are {fresh.observation_space}")
    if trained.action_space != fresh.action_space:
        raise UsageError(
            f"{what} acts in {trained.action_space}, agent={cfg.agent.name} in {fresh.action_space}"
        )
    # What the weights' shapes do not show (an activation), as the algorithm declares it.
    for key, setting in cfg.algo.module_settings().items():
        had, has = trained.model_config.get(key), fresh.model_config.get(key)
        if had != has:
            raise UsageError(f"{what} has {key} {had}, this run's algo.{setting} is {has}")
    had, has = _normalizes(trained), _normalizes(fresh)
    if had != has:
        setting = (f"algo.normalize_observations={str(has).lower()}" if hasattr(cfg.algo, "normalize_observations")
                   else f"algo={cfg.algo.name} never does")
        raise UsageError(
            f"{what} {'standardises' if had else 'does not standardise'} its observations, this run "
            f"{'does' if has else 'does not'} ({setting})"
        )
    had, has = _layout(trained), _layout(fresh)
    if had != has:
        different = sorted(set(had.items()) ^ set(has.items()))[0][0]
        raise UsageError(
            f"{what} ({type(trained).__name__}) and this run's algo={cfg.algo.name} module "
            f"({type(fresh).__name__}) are laid out differently, e.g. {different}: "
            f"{had.get(different, 'absent')} there, {has.get(different, 'absent')} here"
        )


def _normalizes(module) -> bool:
    return bool(getattr(module, "normalizes_observations", False))


def _layout(module) -> dict:
    """Every weight and buffer of the module (but scheduled ones), by name: its shape."""
    return {name: tuple(t.shape) for name, t in module.state_dict().items() if name not in SCHEDULED_BUFFERS}


def recorded_checkpoint(run_dir: Path, cfg) -> str | None:
    """The checkpoint a run being resumed started from: as its summary recorded it, else as its
    init_from named it from the directory the run was started in."""
    import json

    from omegaconf import OmegaConf

    if not cfg.init_from:
        return None
    try:
        return json.loads((Path(run_dir) / SUMMARY_FILE).read_text())["init_from"]
    except (OSError, ValueError, KeyError):
        pass
    try:
        started_in = OmegaConf.load(Path(run_dir) / HYDRA_FILE).hydra.runtime.cwd
        return str(find_init_checkpoint(cfg.init_from, cfg.init_checkpoint, Path(started_in)))
    except Exception:  # the summary keeps the run's outcome whatever happened to the source run
        return cfg.init_from


# -- in each trial -------------------------------------------------------------------------


def on_algorithm_init(warm: WarmStart):
    """The `on_algorithm_init` callback that loads the warm start into a freshly built Algorithm.

    It runs at the end of every trial's setup, also of a trial Tune restores from its own
    checkpoint (PBT exploits, failures, `resume=`): that restore comes after it and wins."""
    # Tune pickles the callback with the algorithm config: it is handed over by its promised name.
    from smarts_rl.persisted import warm_start_modules

    return functools.partial(warm_start_modules, checkpoint=str(warm.checkpoint), sources=dict(warm.sources))
