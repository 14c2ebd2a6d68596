"""What smarts-rl takes from RLlib's internals (Ray 2.60.0, the new API stack): mixins that patch
its env runners, algorithms, learners and configs, and functions for its private attributes and
arguments, for PPO's default actor-critic module (which PG drives with) and for the layout of its
checkpoints.

The mixins go before the RLlib class they patch (`class L(LrFromConfig, TorchLearner)`); the
classes that combine them live elsewhere, and RLlib's and Tune's pickles name them by their
promised names (smarts_rl/persisted.py). Nothing here imports Ray at module level, so that light
modules may import it (tests/test_fast_answers.py).
"""

from __future__ import annotations

import logging
import pickle
import time
from pathlib import Path
from typing import Any, Dict

log = logging.getLogger(__name__)

# -- env runners ---------------------------------------------------------------------------

# Failed env resets, logged by env runners next to RLlib's `num_env_step_failures`.
NUM_ENV_RESET_FAILURES = "num_env_reset_failures"
# Attempts at resetting freshly built envs before the env runner gives up (and, being a
# remote runner, is restarted by Ray).
RESET_ATTEMPTS = 3


class BoundedResetRetries:
    """Env-runner mixin. RLlib 2.60.0's env runners, with `restart_failed_sub_environments`, rebuild
    and reset their envs again after a failed reset, recursively and without limit
    (`EnvRunner._try_env_reset`, ray/rllib/env/env_runner.py; the recursion was pointed out in the
    review of ray-project/ray#47608 and made iterative for `_sample` only, ray-project/ray#56082):
    a scenario that cannot reset would loop forever. Here the reset is retried `RESET_ATTEMPTS`
    times, then its error raised."""

    def _try_env_reset(self, *, seed=None, options=None):
        from ray.rllib.env.env_runner import ENV_RESET_TIMER

        for attempt in range(1, RESET_ATTEMPTS + 1):
            try:
                with self.metrics.log_time(ENV_RESET_TIMER):
                    return self.env.reset(seed=seed, options=options)
            except Exception as exc:
                self.metrics.log_value(NUM_ENV_RESET_FAILURES, 1, reduce="lifetime_sum")
                if not self.config.restart_failed_sub_environments or attempt == RESET_ATTEMPTS:
                    raise
                log.warning("env reset failed (attempt %d of %d), rebuilding the envs: %s: %s",
                            attempt, RESET_ATTEMPTS, type(exc).__name__, exc)
                self.make_env()


class SeedFirstResetOnly:
    """Env-runner mixin. RLlib 2.60.0's env runners pass their seed to every reset of a `sample()`
    of complete episodes (`_needs_initial_reset` is set again after each, and `_reset_envs` then
    seeds: ray/rllib/env/single_agent_env_runner.py and multi_agent_env_runner.py), so each such
    episode started from the same seed: an env runner drove the same few episodes over and over.
    Here each env gets the seed at its first reset only, as ray-project/ray#50437 meant ("a seed
    is only given when a reset is forced or at initialization"); later resets draw from the env's
    own seeded generator (a rebuilt env is seeded again). Overrides `_try_env_reset`."""

    def _try_env_reset(self, *, seed=None, options=None):
        if getattr(self, "_seeded_env", None) is self.env:
            seed = None
        result = super()._try_env_reset(seed=seed, options=options)
        self._seeded_env = self.env
        return result


def timed_whole(pipeline_class: type) -> type:
    """RLlib's connector pipeline class `pipeline_class`, each call timed whole, under the timer
    RLlib logs for it (`<pipeline>/connector_pipeline_timer`, which bench/train_throughput.py
    reads), its pieces run untimed. Handed a MetricsLogger, RLlib 2.60.0's
    `ConnectorPipelineV2.__call__` also times every piece
    (ray/rllib/connectors/connector_pipeline_v2.py) and `EnvToModulePipeline.__call__` logs the
    episodes' lengths before and after (env_to_module/env_to_module_pipeline.py); the pieces
    themselves log nothing. In an env runner, called every step on a batch of one, that
    bookkeeping cost more than the pieces' own work (139 against 51 us per env-to-module call,
    143 against 64 per module-to-env call). What the pipeline computes is unchanged. A subclass
    that adds nothing to the instances, so that a pipeline RLlib built can take it on
    (`PipelinesTimedWhole`)."""
    from ray.rllib.utils.metrics import CONNECTOR_PIPELINE_TIMER

    class TimedWhole(pipeline_class):
        def __call__(self, *, metrics=None, **kwargs):
            if not metrics:
                return super().__call__(metrics=None, **kwargs)
            with metrics.log_time(kwargs.get("metrics_prefix_key", ()) + (CONNECTOR_PIPELINE_TIMER,)):
                return super().__call__(metrics=None, **kwargs)

    TimedWhole.__name__ = TimedWhole.__qualname__ = f"TimedWhole{pipeline_class.__name__}"
    return TimedWhole


class PipelinesTimedWhole:
    """Env-runner mixin: the env-to-module and module-to-env pipelines that RLlib 2.60.0's env
    runners build in `__init__` (the private `_env_to_module` and `_module_to_env` of
    ray/rllib/env/multi_agent_env_runner.py and single_agent_env_runner.py) become, pieces and
    state kept, the class that `pipelines_timed_whole` maps their class to (made by `timed_whole()`)."""

    pipelines_timed_whole: dict = {}  # RLlib's pipeline class -> the same, timed whole

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name in ("_env_to_module", "_module_to_env"):
            pipeline = getattr(self, name, None)
            timed = self.pipelines_timed_whole.get(type(pipeline))
            if timed is not None:
                pipeline.__class__ = timed


# -- algorithms ----------------------------------------------------------------------------

# Seconds a training step waits for Ray to bring back an env runner when none is healthy.
ENV_RUNNER_WAIT_S = 300.0


class WaitForEnvRunners:
    """Algorithm mixin. RLlib 2.60.0 runs a training step even when every remote env runner is
    down (say, one runner whose process died and is being restarted by Ray): the iteration then
    ends at once with no samples, no update and no episode, and a run would "complete" its
    iterations that way. Here the step first waits, up to `ENV_RUNNER_WAIT_S`, until Ray has
    brought one back; if none comes back, the trial fails. Overrides `Algorithm.restore_env_runners`
    (ray/rllib/algorithms/algorithm.py; its docstring invites overriding it, and
    ray-project/ray#54071 is about the same method skipping runners Ray brought back)."""

    def restore_env_runners(self, env_runner_group):
        restored = list(super().restore_env_runners(env_runner_group))
        if env_runner_group is not self.env_runner_group or not self.config.restart_failed_env_runners:
            return restored
        deadline = time.monotonic() + ENV_RUNNER_WAIT_S
        while env_runner_group.num_remote_env_runners() > 0 and env_runner_group.num_healthy_remote_env_runners() == 0:
            if time.monotonic() > deadline:
                raise RuntimeError(f"no env runner is running again {ENV_RUNNER_WAIT_S:.0f} s after the last one failed")
            time.sleep(1.0)
            restored += super().restore_env_runners(env_runner_group)
        return restored


# -- configs -------------------------------------------------------------------------------

ALGORITHM_CONFIG_LOGGER = "ray.rllib.algorithms.algorithm_config"


class SeparateValueNetwork:
    """AlgorithmConfig mixin: RLlib's default actor-critic module gets separate policy and value
    networks (`vf_share_layers=False`), so the value loss does not shape the policy. Extends the
    private property `AlgorithmConfig._model_config_auto_includes`
    (ray/rllib/algorithms/algorithm_config.py, Ray 2.60.0), as RLlib's own APPOConfig does."""

    @property
    def _model_config_auto_includes(self):
        return super()._model_config_auto_includes | {"vf_share_layers": False}


def config_error(config, message: str) -> None:
    """Reject an AlgorithmConfig in `validate()` as RLlib's own configs do: the private
    `AlgorithmConfig._value_error` (ray/rllib/algorithms/algorithm_config.py, Ray 2.60.0) raises
    a ValueError, or only logs it with `experimental(_validate_config=False)`."""
    config._value_error(message)


def quiet_config_warnings() -> None:
    """The driver's console shows errors only of what RLlib 2.60.0 logs while it builds and
    validates each trial's config (the logger of ray/rllib/algorithms/algorithm_config.py)."""
    logging.getLogger(ALGORITHM_CONFIG_LOGGER).setLevel(logging.ERROR)


# -- learners ------------------------------------------------------------------------------

LR_SCHEDULE_TIMESTEP = "lr_schedule_timestep"


class LrFromConfig:
    """Learner mixin: after a restore, the optimizer runs at the lr of the *config*.

    Why: Population Based Training exploits by building a trial with a mutated config (say a new
    `lr`) and restoring another trial's checkpoint into it. RLlib 2.60.0's `TorchLearner` restores
    optimizers with `load_state_dict`, which also restores each param group's `lr`, so the
    checkpoint's old lr is used for the next gradient step (RLlib's lr Scheduler only re-applies
    the config's lr *after* that step): the new stack's form of ray-project/ray#62173. With one
    gradient step per batch (PG), that is a whole iteration trained at the wrong lr.

    It also stores the env-step count the lr schedule had reached, so a restored schedule
    continues where the checkpoint left off instead of at timestep 0. Uses the private
    `Learner._optimizer_lr_schedules` and `_set_optimizer_lr` (ray/rllib/core/learner/learner.py).
    """

    _lr_schedule_timestep: int = 0

    def after_gradient_based_update(self, *, timesteps: Dict[str, Any]) -> None:
        from ray.rllib.utils.metrics import NUM_ENV_STEPS_SAMPLED_LIFETIME

        super().after_gradient_based_update(timesteps=timesteps)
        self._lr_schedule_timestep = int(timesteps.get(NUM_ENV_STEPS_SAMPLED_LIFETIME, 0) or 0)

    def get_state(self, *args, **kwargs):
        state = super().get_state(*args, **kwargs)
        state[LR_SCHEDULE_TIMESTEP] = self._lr_schedule_timestep
        return state

    def set_state(self, state) -> None:
        super().set_state(state)
        self._lr_schedule_timestep = int(state.get(LR_SCHEDULE_TIMESTEP, self._lr_schedule_timestep))
        self.apply_configured_lr()

    def apply_configured_lr(self) -> None:
        """Sets every optimizer's lr to its config value (or schedule value now)."""
        for optimizer, schedule in self._optimizer_lr_schedules.items():
            lr = schedule.update(timestep=self._lr_schedule_timestep)
            self._set_optimizer_lr(optimizer, lr=float(lr))


class BatchUpdateHooks:
    """TorchLearner mixin: `before_batch_update(batch)` and `after_batch_update(batch)` run around
    each of the learner's gradient updates (once per minibatch). RLlib 2.60.0 has no hook there:
    this overrides the private `TorchLearner._uncompiled_update`
    (ray/rllib/core/learner/torch/torch_learner.py), which `Learner.update` calls per minibatch."""

    def before_batch_update(self, batch) -> None:
        pass

    def after_batch_update(self, batch) -> None:
        pass

    def _uncompiled_update(self, batch, **kwargs):
        self.before_batch_update(batch)
        result = super()._uncompiled_update(batch, **kwargs)
        self.after_batch_update(batch)
        return result


def learner_connector(learner):
    """The learner's connector pipeline (episodes → train batch), for adding pieces to it in
    `build()`. Ray 2.60.0 keeps it in the private `Learner._learner_connector`
    (ray/rllib/core/learner/learner.py, set in `Learner.build`; None when the config builds none)."""
    return learner._learner_connector


def set_gradients(learner, gradients: dict) -> None:
    """Sets the parameters' `.grad` to `gradients` (param ref → tensor, as `compute_gradients`
    returns them) without stepping any optimizer, so that only some optimizers step.
    `Learner.apply_gradients` steps them all; the parameters by ref are the private
    `Learner._params` (ray/rllib/core/learner/learner.py, Ray 2.60.0)."""
    for param_ref, grad in gradients.items():
        learner._params[param_ref].grad = grad


# -- the default actor-critic module ---------------------------------------------------------
# PG drives with RLlib's default actor-critic MLP, which RLlib 2.60.0 has only as PPO's module:
# its class, its catalog, and the names and attributes of its networks are PPO's internals.


def default_actor_critic_module():
    """The torch class of RLlib's default actor-critic RLModule (separate or shared encoders, a
    policy head `pi`, a value head `vf`), for subclassing: PPO's `DefaultPPOTorchRLModule`
    (ray/rllib/algorithms/ppo/torch/default_ppo_torch_rl_module.py)."""
    from ray.rllib.algorithms.ppo.torch.default_ppo_torch_rl_module import DefaultPPOTorchRLModule

    return DefaultPPOTorchRLModule


class NoModeSwitchOnSampling:
    """RLModule mixin: the env runners' forward passes (`forward_exploration`,
    `forward_inference`) go straight to `_forward_exploration` and `_forward_inference`,
    without the switch to eval mode and back that RLlib's `TorchRLModule` makes around every
    call for dropout and batch norm (ray/rllib/core/rl_module/torch/torch_rl_module.py, Ray
    2.60.0; `RLModule` asks not to override these two). The switch walks every layer twice;
    on an env runner's batch of one it took more than half of the forward pass (119 against
    45 us). It is skipped only in a module with no layer that computes differently in training
    (dropout, batch norm: torch's private bases `_DropoutNd` and `_NormBase`), where both modes
    give the same outputs; any other module switches as RLlib does."""

    def forward_exploration(self, batch, **kwargs):
        if self._mode_free():
            return self._forward_exploration(batch, **kwargs)
        return super().forward_exploration(batch, **kwargs)

    def forward_inference(self, batch, **kwargs):
        if self._mode_free():
            return self._forward_inference(batch, **kwargs)
        return super().forward_inference(batch, **kwargs)

    def _mode_free(self) -> bool:
        # Layers are set up once, before the first forward pass: look at them once.
        free = self.__dict__.get("_no_mode_dependent_layers")
        if free is None:
            import torch

            mode_dependent = (torch.nn.modules.dropout._DropoutNd, torch.nn.modules.batchnorm._NormBase)
            free = not any(isinstance(m, mode_dependent) for m in self.modules())
            self.__dict__["_no_mode_dependent_layers"] = free
        return free


def default_actor_critic_catalog():
    """The catalog that builds that module's encoders and heads from `model_config`: PPO's
    `PPOCatalog` (ray/rllib/algorithms/ppo/ppo_catalog.py)."""
    from ray.rllib.algorithms.ppo.ppo_catalog import PPOCatalog

    return PPOCatalog


def policy_linear_layers(module) -> list | None:
    """The torch `Linear` layers an observation goes through to the action distribution's inputs,
    in order (the actor encoder's, then the policy head's; the last one outputs [means..., log
    stds...] for continuous actions); None if `module` is not the default actor-critic module
    with separate networks. Reads its `encoder.actor_encoder` and `pi` (built in
    `DefaultPPORLModule.setup`, ray/rllib/algorithms/ppo/default_ppo_rl_module.py)."""
    from torch import nn

    actor = getattr(getattr(module, "encoder", None), "actor_encoder", None)
    head = getattr(module, "pi", None)
    if actor is None or head is None:
        return None
    return [m for part in (actor, head) for m in part.modules() if isinstance(m, nn.Linear)]


def policy_head_outputs(module, observations):
    """What the default actor-critic module's policy network (its actor encoder, then `pi`) gives for
    a batch of observations, as they reach the encoder (standardise them first where the module
    does): the action distribution's inputs before anything a subclass does after `pi` (such as a
    log-std ceiling). Calls its `encoder.actor_encoder` and `pi`, and reads the encoder's output by
    RLlib's `ENCODER_OUT` key (ray/rllib/core/models/base.py)."""
    from ray.rllib.core.columns import Columns
    from ray.rllib.core.models.base import ENCODER_OUT

    return module.pi(module.encoder.actor_encoder({Columns.OBS: observations})[ENCODER_OUT])


def is_value_parameter(name: str) -> bool:
    """Whether a parameter of the default actor-critic module (by its name in `named_parameters()`)
    belongs to the value function: its critic encoder (`encoder.critic_encoder.*`) or its value
    head (`vf.*`), as `DefaultPPORLModule.setup` names them."""
    return "critic_encoder" in name or name.startswith("vf.") or ".vf." in name


# -- checkpoints ---------------------------------------------------------------------------

# Where an Algorithm checkpoint keeps its RLModules, one folder per module id: the state of its
# components `learner_group` / `learner` / `rl_module` (`COMPONENT_LEARNER_GROUP`, `COMPONENT_LEARNER`,
# `COMPONENT_RL_MODULE` in ray/rllib/core/__init__.py), each saved into a folder of its name by
# `Checkpointable.save_to_path` (ray/rllib/utils/checkpoints.py). Spelt out, so that run
# directories are read without loading Ray.
MODULES_IN_CHECKPOINT = Path("learner_group") / "learner" / "rl_module"
# A module's state as a learner component (`Learner.get_state`, `LearnerGroup.restore_from_path`).
LEARNER_MODULE_COMPONENT = "learner/rl_module/{module_id}"
# The file RLlib writes into every Algorithm checkpoint (`Algorithm.METADATA_FILE_NAME`).
CHECKPOINT_MARKER = "rllib_checkpoint.json"
# Where an algorithm checkpoint keeps its env runner's module-to-env connector pipeline.
ACTION_CONNECTOR = Path("env_runner") / "module_to_env_connector" / "class_and_ctor_args.pkl"


def is_algorithm_checkpoint(path: Path) -> bool:
    """Whether `path` is an RLlib Algorithm checkpoint of the new API stack (it holds RLModules)."""
    return (Path(path) / MODULES_IN_CHECKPOINT).is_dir()


def checkpoint_modules(checkpoint: Path) -> dict:
    """module id → the RLModule, from an Algorithm checkpoint, without a Ray session:
    `RLModule.from_checkpoint` on the checkpoint's `MODULES_IN_CHECKPOINT` (a MultiRLModule)."""
    from ray.rllib.core.rl_module.rl_module import RLModule

    from smarts_rl.upstream.ray import quiet_deprecations

    with quiet_deprecations():
        multi = RLModule.from_checkpoint(str(Path(checkpoint) / MODULES_IN_CHECKPOINT))
    return {module_id: multi[module_id] for module_id in multi.keys()}


def restore_modules(algorithm, checkpoint: Path, sources: dict) -> None:
    """Each learner module `target` takes the state of the checkpoint's module `sources[target]`
    (weights and buffers; the optimizer stays as it is), then every env runner takes the same
    weights. RLlib 2.60.0 addresses one module's state as the component path
    `LEARNER_MODULE_COMPONENT` of its learner group, and an env runner's modules as its state's
    `rl_module` (`COMPONENT_RL_MODULE`)."""
    modules = Path(checkpoint) / MODULES_IN_CHECKPOINT
    components = {target: LEARNER_MODULE_COMPONENT.format(module_id=target) for target in sources}
    for target, source in sources.items():
        algorithm.learner_group.restore_from_path(modules / source, component=components[target])
    # Not `sync_weights`: it sends asynchronously, and RLlib drops the request while the setup's
    # own sync of the fresh weights is still in flight (max_requests_in_flight_per_env_runner=1),
    # so the first iteration would sample with the fresh policy. This waits for every env runner.
    weights = algorithm.learner_group.get_state(components=list(components.values()), inference_only=True)
    weights = weights["learner"]["rl_module"]
    algorithm.env_runner_group.foreach_env_runner(lambda runner: runner.set_state({"rl_module": weights}))


def checkpoint_action_postprocessing(checkpoint: Path) -> tuple[bool, bool] | None:
    """(normalize_actions, clip_actions) of the env runner that sampled for an RLlib algorithm
    checkpoint, read without Ray; None if it is not one. RLlib 2.60.0 keeps no public record of
    them: they are the constructor kwargs of the `NormalizeAndClipActions` piece in the pickled
    constructor arguments of the env runner's module-to-env pipeline (`Checkpointable.save_to_path`
    in ray/rllib/utils/checkpoints.py, `ConnectorPipelineV2.get_ctor_args_and_kwargs` in
    ray/rllib/connectors/connector_pipeline_v2.py). No such piece: neither."""
    path = Path(checkpoint) / ACTION_CONNECTOR
    if not path.is_file():
        return None
    with open(path, "rb") as f:
        pipeline = pickle.load(f)
    connectors = pipeline["ctor_args_and_kwargs"][1]["connectors"]
    for cls, _, kwargs in connectors:
        if cls.__name__ == "NormalizeAndClipActions":
            return bool(kwargs["normalize_actions"]), bool(kwargs["clip_actions"])
    return False, False
