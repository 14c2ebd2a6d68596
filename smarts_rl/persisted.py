"""Everything of ours that Ray Tune and RLlib pickle into a run directory, by the names they pickle.

These names are a compatibility promise: a run directory names our classes and functions by
module and name in its Tune experiment (tuner.pkl, experiment_state-*.json, the searcher's state,
each trial's params.pkl) and its RLlib checkpoints (class_and_ctor_args.pkl), and `resume=`,
`evaluate`, `export` and `init_from=` load them again, possibly years later. So every object handed
to Tune or RLlib is handed over under its name here, and:
- a name here is never renamed, moved or removed, and keeps meaning the same thing;
- the implementations behind them (the base classes, the functions these call) may move freely:
  pickles name only `smarts_rl.persisted.<name>`;
- a new pickled object gets its name here; run directories made before this module existed are
  rewritten to these names once (smarts_rl/migrate.py, which alone knows the older names).

Each entry is a thin subclass of its implementation, or a function calling it. The few overrides
below only make an implementation hand over the promised names of its parts (PG's config names
its algorithm, learner and RLModule).

One exception is Ray's: a trial's Algorithm is an actor whose class Ray subclasses, so an algorithm
checkpoint's own class_and_ctor_args.pkl holds that class by value, with references to the methods
Ray wraps where they are implemented (`pg_algorithm.PG.training_step`). RLlib reads that file only
in `Algorithm.from_checkpoint`; resume, evaluate, export and init_from never do.
"""

from __future__ import annotations

from ray.rllib.connectors import env_to_module, module_to_env
from ray.rllib.env.multi_agent_env_runner import MultiAgentEnvRunner
from ray.rllib.env.single_agent_env_runner import SingleAgentEnvRunner

from smarts_rl.algorithms import actor_critic_module, pg_algorithm, pg_learner, ppo_algorithm
from smarts_rl.env import driving_metrics, policy_mapping, simulator_time
from smarts_rl.run import console, progress_logger, resource_wait, resumed_settings, stopping, warm_start_in_trial
from smarts_rl.schedulers import recorded_pbt
from smarts_rl.upstream import tune as upstream_tune
from smarts_rl.upstream.rllib import BoundedResetRetries, PipelinesTimedWhole, SeedFirstResetOnly, timed_whole

# -- RLlib: algorithms, their learners and RLModule ----------------------------------------


class ActorCriticModule(actor_critic_module.ActorCriticModule):
    """PG's RLModule (named by every checkpoint's rl_module/ and read by evaluate, export, init_from)."""


class PGLearner(pg_learner.PGTorchLearner):
    """PG's learner."""


class PGConfig(pg_algorithm.PGConfig):
    """PG's AlgorithmConfig, naming the promised algorithm, learner and RLModule."""

    def __init__(self, algo_class=None):
        super().__init__(algo_class=algo_class or PG)

    def get_default_rl_module_spec(self):
        spec = super().get_default_rl_module_spec()
        spec.module_class = ActorCriticModule
        return spec

    def get_default_learner_class(self):
        return PGLearner


class PG(pg_algorithm.PG):
    """PG's Algorithm (Tune's trainable "PG")."""

    @classmethod
    def get_default_config(cls) -> PGConfig:
        return PGConfig()


class PPO(ppo_algorithm.PPO):
    """RLlib's PPO as `algo=ppo` runs it (Tune's trainable "PPO")."""


class PPOLearner(ppo_algorithm.LrFromConfigPPOLearner):
    """PPO's learner."""


# -- RLlib: env runners, callbacks, the policy mapping -------------------------------------


class EnvToModulePipeline(timed_whole(env_to_module.EnvToModulePipeline)):
    """An env runner's env-to-module pipeline, timed per call only (named by every checkpoint's
    env_runner/env_to_module_connector/)."""


class ModuleToEnvPipeline(timed_whole(module_to_env.ModuleToEnvPipeline)):
    """An env runner's module-to-env pipeline, timed per call only (named by every checkpoint's
    env_runner/module_to_env_connector/, which evaluate reads)."""


# RLlib's env runners' per-step pipelines, timed per call only.
TIMED_WHOLE = {
    env_to_module.EnvToModulePipeline: EnvToModulePipeline,
    module_to_env.ModuleToEnvPipeline: ModuleToEnvPipeline,
}


class MultiAgentRunner(SeedFirstResetOnly, BoundedResetRetries, PipelinesTimedWhole, MultiAgentEnvRunner):
    """RLlib's env runner, reseeding only the first reset, giving up after a few failed resets
    (smarts_rl/run/fault_tolerance.py), its connector pipelines timed per call only."""

    pipelines_timed_whole = TIMED_WHOLE


class SingleAgentRunner(SeedFirstResetOnly, BoundedResetRetries, PipelinesTimedWhole, SingleAgentEnvRunner):
    """The same for single-agent envs."""

    pipelines_timed_whole = TIMED_WHOLE


class DrivingMetrics(driving_metrics.DrivingMetrics):
    """Per-episode driving outcomes in the results."""


class SimulatorTime(simulator_time.SimulatorTime):
    """Seconds spent inside SMARTS in the results."""


# The policy mapping: its promised names, over env/policy_mapping.py's.
def shared_policy(agent_id, episode=None, **kwargs) -> str:
    """`agents.policy=shared`: every agent is driven by the one module "shared"."""
    return policy_mapping.shared_policy(agent_id, episode, **kwargs)


def own_policy(agent_id, episode=None, **kwargs) -> str:
    """`agents.policy=per_agent`: each agent by the module of its own id."""
    return policy_mapping.own_policy(agent_id, episode, **kwargs)


def warm_start_modules(algorithm, checkpoint: str, sources: dict, **kwargs) -> None:
    """`init_from`'s `on_algorithm_init` callback (bound to its checkpoint and sources)."""
    warm_start_in_trial.load_modules_into(algorithm, checkpoint=checkpoint, sources=sources, **kwargs)


# -- Tune: the run's stopper, callbacks, scheduler and trial folders -----------------------


class RunStopper(stopping.RunStopper):
    """Stops each trial at the run config's `stop.*`, re-read as it changes on resume."""


class TrialLines(console.TrialLines):
    """The console's line per trial result."""


class RunSettings(resumed_settings.RunSettings):
    """Each trial's checkpoint and failure limits, re-read from the run config."""


class ProgressTable(progress_logger.ProgressTable):
    """Each trial's progress.csv, equal to its result.json after any resume (in place of Tune's
    CSV logger; Tune builds it by this name, see smarts_rl/run/job.py)."""


class TensorBoardEvents(upstream_tune.TBXLoggerFromResumePoint):
    """Each trial's TensorBoard events, an iteration trained again after a resume shown once (in
    place of Tune's TensorBoard logger; built by this name, as ProgressTable)."""


class ResourceWait(resource_wait.ResourceWait):
    """A line a minute while no trial can start for want of CPUs; gives up after
    `ray.wait_for_resources_s` (built by this name, as ProgressTable)."""


class RecordedPBT(recorded_pbt.RecordedPBT):
    """`scheduler=pbt`: Tune's PBT recording its exploits."""


def trial_dirname(trial) -> str:
    """Tune's trial folder name: `trial_<id>`."""
    return f"trial_{trial.trial_id}"
