"""Each use of Ray's, RLlib's, Tune's, Hydra's and SMARTS's internals (smarts_rl/upstream/) on the
real thing: a test here fails when the version under it no longer has what the function relies
on, or no longer behaves as its docstring says (SMARTS's bugs and speed patches:
tests/test_workarounds.py). The checklist of docs/workarounds.md#upgrading-ray names these
tests and the others that guard the same functions.

Cheap on purpose: real env runners, learners, schedulers and trials built in this process, one
tiny local Ray for the tests that build an Algorithm, no training run."""

import importlib
import json
import inspect
import logging
import os
import time
import warnings
from pathlib import Path
from types import SimpleNamespace

import gymnasium as gym
import numpy as np
import pytest
import torch

from smarts_rl.upstream import ray as upstream_ray
from smarts_rl.upstream import rllib as upstream_rllib
from smarts_rl.upstream import tune as upstream_tune

CARTPOLE = gym.make("CartPole-v1")


def parameters(function) -> list[str]:
    # Once a class has been made a Ray actor in this process, Ray's tracing hooks add a
    # `_ray_trace_ctx` parameter to its methods (ray/util/tracing/tracing_helper.py): not ours to check.
    return [name for name in inspect.signature(function).parameters if name != "_ray_trace_ctx"]


# -- Ray core ------------------------------------------------------------------------------


@pytest.mark.parametrize("name", [upstream_ray.AUTH_TOKEN_SETUP_LOGGER, upstream_ray.DEPRECATION_LOGGER])
def test_the_ray_modules_we_quiet_log_through_loggers_of_their_own_names(name):
    assert importlib.import_module(name).logger.name == name


def test_quiet_auth_token_notice_leaves_the_auth_modules_errors_only():
    module = importlib.import_module(upstream_ray.AUTH_TOKEN_SETUP_LOGGER)
    level = module.logger.level
    try:
        upstream_ray.quiet_auth_token_notice()
        assert not module.logger.isEnabledFor(logging.WARNING) and module.logger.isEnabledFor(logging.ERROR)
    finally:
        module.logger.setLevel(level)


def test_quiet_deprecations_hides_rllibs_deprecation_notices_while_it_runs(caplog):
    from ray._common.deprecation import deprecation_warning

    with upstream_ray.quiet_deprecations():
        deprecation_warning(old="old_thing", new="new_thing", error=False)
    assert "old_thing" not in caplog.text
    deprecation_warning(old="old_thing", new="new_thing", error=False)
    assert "old_thing" in caplog.text


def test_dashboard_dependency_error_answers_as_rays_own_check():
    missing = upstream_ray.dashboard_dependency_error()
    try:
        import ray.dashboard.optional_deps  # noqa: F401

        installed = True
    except ImportError:
        installed = False
    assert (missing is None) == installed
    assert missing is None or isinstance(missing, ImportError)


# -- Tune ----------------------------------------------------------------------------------


def test_classic_console_output_is_what_ray_air_new_output_0_selects(monkeypatch):
    from ray.tune.experimental.output import get_air_verbosity

    monkeypatch.delenv("RAY_AIR_NEW_OUTPUT", raising=False)
    assert get_air_verbosity(1) is not None  # Tune's new output engine, by default
    upstream_tune.use_classic_console_output()
    assert get_air_verbosity(1) is None


def test_the_pbt_actor_reuse_hint_is_tunes_warning_and_is_ignored():
    import ray.tune.tune

    assert upstream_tune.PBT_ACTOR_REUSE_HINT in inspect.getsource(ray.tune.tune.run)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        upstream_tune.ignore_pbt_actor_reuse_hint()
        warnings.warn("Consider boosting PBT performance by enabling `reuse_actors` as well")
    assert caught == []


def test_tuner_restore_still_takes_a_resume_config_that_resumes_finished_trials():
    from ray.tune import ResumeConfig, Tuner

    assert "_resume_config" in parameters(Tuner.restore)
    everything = ResumeConfig.ResumeType.RESUME
    config = ResumeConfig(finished=everything, unfinished=everything, errored=everything)
    assert (config.finished, config.unfinished, config.errored) == (everything,) * 3


def test_set_trial_limits_sets_the_checkpoint_managers_private_config():
    from ray.tune import CheckpointConfig
    from ray.tune.experiment import Trial

    trial = Trial("PG", config={}, stub=True, checkpoint_config=CheckpointConfig(num_to_keep=3))
    manager = trial.run_metadata.checkpoint_manager
    assert manager.checkpoint_config is manager._checkpoint_config
    upstream_tune.set_trial_limits(trial, num_to_keep=1, max_failures=0)
    assert manager.checkpoint_config.num_to_keep == 1


def pbt_and_trials(tmp_path, interval=1):
    from ray.tune.experiment import Trial
    from ray.tune.schedulers.pbt import _PBTTrialState

    from smarts_rl.schedulers.pbt import Settings

    pbt = Settings(perturbation_interval=interval, hyperparam_mutations={"lr": [0.1, 0.2]}).tune_scheduler(
        "m", "max", tmp_path)
    trials = [Trial("PG", config={"seed": seed, "lr": 0.1}, stub=True) for seed in (1, 2)]
    for trial in trials:
        pbt._trial_state[trial] = _PBTTrialState(trial)
    return pbt, trials


def test_pbts_private_exploit_steps_have_the_signatures_our_hooks_override():
    from ray.tune.schedulers import PopulationBasedTraining

    assert parameters(PopulationBasedTraining._get_new_config) == ["self", "trial", "trial_to_clone"]
    assert parameters(PopulationBasedTraining._log_config_on_step) == [
        "self", "trial_state", "new_state", "trial", "trial_to_clone", "new_config"]
    assert parameters(PopulationBasedTraining.choose_trial_to_run) == ["self", "tune_controller"]


def test_an_exploiting_trial_keeps_its_own_seed_through_pbts_new_config(tmp_path):
    pbt, (trial, to_clone) = pbt_and_trials(tmp_path)
    new_config, _ = pbt._get_new_config(trial, to_clone)
    assert new_config["seed"] == trial.config["seed"] != to_clone.config["seed"]
    assert new_config["lr"] in (0.1, 0.2)


def test_synchronous_pbt_moves_its_sync_point_when_every_real_trial_state_waits_at_it(tmp_path):
    """Real `_PBTTrialState`s: the fix reads their `last_train_time` and moves `_next_perturbation_sync`
    (tests/test_driver_faults.py checks the same through a resumed run's stall)."""
    from ray.tune.experiment import Trial

    pbt, trials = pbt_and_trials(tmp_path, interval=1)
    assert pbt._synch and pbt._perturbation_interval == 1
    for trial in trials:
        trial.set_status(Trial.PAUSED)
        pbt._trial_state[trial].last_train_time = 2
    controller = SimpleNamespace(get_trials=lambda: trials, get_live_trials=lambda: trials, search_alg=None)
    pbt._next_perturbation_sync = 2
    assert pbt.choose_trial_to_run(controller) in trials
    assert pbt._next_perturbation_sync == 3


# -- RLlib: env runners --------------------------------------------------------------------


class ResetRecorder(gym.Env):
    """One-step episodes; records the seed of every reset, and fails the first `failures` resets.
    Class attributes: the env runner builds (and rebuilds) its envs itself."""

    observation_space = gym.spaces.Box(-1.0, 1.0, (2,), np.float32)
    action_space = gym.spaces.Discrete(2)
    seeds: list = []
    failures = 0

    def __init__(self, config=None):
        super().__init__()

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        ResetRecorder.seeds.append(seed)
        if ResetRecorder.failures > 0:
            ResetRecorder.failures -= 1
            raise RuntimeError("reset failed")
        return np.zeros(2, np.float32), {}

    def step(self, action):
        return np.zeros(2, np.float32), 1.0, True, False, {}


def env_runner(cls, failures=0):
    from ray.rllib.algorithms.ppo import PPOConfig

    ResetRecorder.seeds, ResetRecorder.failures = [], failures
    config = (
        PPOConfig()
        .environment(ResetRecorder)
        .env_runners(num_env_runners=0)
        .fault_tolerance(restart_failed_sub_environments=True)
        .rl_module(model_config={"fcnet_hiddens": [4]})
        .debugging(seed=7)
    )
    return cls(config=config)


def test_env_runners_still_reset_through_try_env_reset_with_seed_and_options():
    from ray.rllib.env.env_runner import EnvRunner

    assert parameters(EnvRunner._try_env_reset) == ["self", "seed", "options"]


def test_rllib_seeds_every_sample_of_episodes_and_ours_the_first_reset_only():
    from ray.rllib.env.single_agent_env_runner import SingleAgentEnvRunner

    from smarts_rl.run.fault_tolerance import SingleAgentRunner

    seeded = {}
    for cls in (SingleAgentEnvRunner, SingleAgentRunner):
        runner = env_runner(cls)
        for _ in range(3):
            runner.sample(num_episodes=1)
        seeded[cls] = [s for s in ResetRecorder.seeds if s is not None]
        runner.stop()
    assert len(seeded[SingleAgentEnvRunner]) == 3, "RLlib no longer reseeds each sample: SeedFirstResetOnly may go"
    assert len(seeded[SingleAgentRunner]) == 1


def test_rllib_retries_failed_resets_beyond_our_bound_and_ours_gives_up():
    from ray.rllib.env.single_agent_env_runner import SingleAgentEnvRunner

    from smarts_rl.run.fault_tolerance import SingleAgentRunner

    failures = upstream_rllib.RESET_ATTEMPTS + 2
    plain = env_runner(SingleAgentEnvRunner, failures=failures)
    assert plain.sample(num_episodes=1)  # RLlib rebuilt and reset until it worked
    assert len(ResetRecorder.seeds) == failures + 1
    plain.stop()

    ours = env_runner(SingleAgentRunner, failures=failures)
    with pytest.raises(RuntimeError, match="reset failed"):
        ours.sample(num_episodes=1)
    assert len(ResetRecorder.seeds) == upstream_rllib.RESET_ATTEMPTS
    assert ours.metrics.peek(upstream_rllib.NUM_ENV_RESET_FAILURES) == upstream_rllib.RESET_ATTEMPTS


def test_env_runners_build_rllibs_pipelines_which_ours_take_over_timing_each_call_only():
    from ray.rllib.env.single_agent_env_runner import SingleAgentEnvRunner
    from ray.rllib.utils.metrics import CONNECTOR_PIPELINE_TIMER, ENV_TO_MODULE_CONNECTOR, MODULE_TO_ENV_CONNECTOR

    from smarts_rl.persisted import TIMED_WHOLE
    from smarts_rl.run.fault_tolerance import SingleAgentRunner

    actions, logged = {}, {}
    for cls in (SingleAgentEnvRunner, SingleAgentRunner):
        runner = env_runner(cls)
        pipelines = (type(runner._env_to_module), type(runner._module_to_env))
        if cls is SingleAgentEnvRunner:
            assert set(pipelines) == set(TIMED_WHOLE), "RLlib builds other pipeline classes: none is taken over"
        else:
            assert set(pipelines) == set(TIMED_WHOLE.values())
        episodes = runner.sample(num_timesteps=20)
        actions[cls] = [a for e in episodes for a in e.get_actions()]
        metrics = runner.get_metrics()
        logged[cls] = {key: set(metrics[key]) for key in (ENV_TO_MODULE_CONNECTOR, MODULE_TO_ENV_CONNECTOR)}
        runner.stop()
    assert actions[SingleAgentRunner] == actions[SingleAgentEnvRunner]  # the same seed, the same actions
    for key in (ENV_TO_MODULE_CONNECTOR, MODULE_TO_ENV_CONNECTOR):
        assert logged[SingleAgentEnvRunner][key] > {CONNECTOR_PIPELINE_TIMER}, "RLlib no longer times the pieces"
        assert logged[SingleAgentRunner][key] == {CONNECTOR_PIPELINE_TIMER}


# -- RLlib: algorithms and configs ---------------------------------------------------------


@pytest.fixture(scope="module")
def tiny_pg(ray_local):
    from smarts_rl.algorithms import pg

    algo = (
        pg.Settings(train_batch_size=64, fcnet_hiddens=[8]).algorithm_config()
        .environment("CartPole-v1")
        .env_runners(num_env_runners=0)
        .debugging(seed=0)
        .build_algo()
    )
    yield algo
    algo.stop()


def test_restore_env_runners_is_still_the_method_an_algorithm_overrides(tiny_pg):
    from ray.rllib.algorithms.algorithm import Algorithm
    from ray.rllib.env.env_runner_group import EnvRunnerGroup

    assert parameters(Algorithm.restore_env_runners) == ["self", "env_runner_group"]
    for method in ("num_remote_env_runners", "num_healthy_remote_env_runners"):
        assert callable(getattr(EnvRunnerGroup, method))
    # Without remote env runners there is nothing to wait for.
    assert tiny_pg.restore_env_runners(tiny_pg.env_runner_group) == []


def test_pg_config_gives_rllibs_default_module_a_separate_value_network():
    from ray.rllib.algorithms.algorithm_config import AlgorithmConfig

    from smarts_rl.algorithms import pg

    assert "vf_share_layers" not in AlgorithmConfig()._model_config_auto_includes
    config = pg.Settings(fcnet_hiddens=[8]).algorithm_config()
    assert config.model_config["vf_share_layers"] is False
    learner = config.build_learner(env=CARTPOLE)
    names = [name for name, _ in learner.module["default_policy"].named_parameters()]
    assert any("critic_encoder" in name for name in names)


def test_config_error_raises_unless_validation_is_off():
    from smarts_rl.algorithms import pg

    config = pg.Settings().algorithm_config().environment("CartPole-v1")
    config.baseline = "nope"
    with pytest.raises(ValueError, match="`baseline` must be one of"):
        config.validate()
    config.experimental(_validate_config=False)
    config.validate()  # logged only


def test_quiet_config_warnings_is_the_loggers_of_rllibs_algorithm_config():
    import ray.rllib.algorithms.algorithm_config as algorithm_config

    assert algorithm_config.logger.name == upstream_rllib.ALGORITHM_CONFIG_LOGGER
    level = algorithm_config.logger.level
    try:
        upstream_rllib.quiet_config_warnings()
        assert not algorithm_config.logger.isEnabledFor(logging.WARNING)
    finally:
        algorithm_config.logger.setLevel(level)


# -- RLlib: learners -----------------------------------------------------------------------


def pg_learner(**settings):
    from smarts_rl.algorithms import pg

    return pg.Settings(fcnet_hiddens=[8], **settings).algorithm_config().build_learner(env=CARTPOLE)


def test_learner_connector_is_the_pipeline_pg_adds_its_pieces_to():
    from ray.rllib.connectors.learner import AddOneTsToEpisodesAndTruncate

    from smarts_rl.algorithms.pg_learner import RewardToGo

    connector = upstream_rllib.learner_connector(pg_learner(baseline="value"))
    assert isinstance(connector.connectors[-1], RewardToGo)
    assert isinstance(connector.connectors[0], AddOneTsToEpisodesAndTruncate)


def test_set_gradients_sets_the_parameters_grads_by_ref():
    learner = pg_learner()
    param = next(learner.module["default_policy"].parameters())
    grad = torch.ones_like(param)
    upstream_rllib.set_gradients(learner, {learner.get_param_ref(param): grad})
    assert param.grad is grad


def test_batch_update_hooks_run_around_each_gradient_update():
    """`before_batch_update`: a standardising module takes in the batch's observations (the
    value steps after it: tests/test_pg_learner.py, vf_iters)."""
    from ray.rllib.core.learner.torch.torch_learner import TorchLearner
    from ray.rllib.env.single_agent_episode import SingleAgentEpisode

    assert parameters(TorchLearner._uncompiled_update) == ["self", "batch", "kwargs"]
    learner = pg_learner(normalize_observations=True)
    module = learner.module["default_policy"]
    episode = SingleAgentEpisode(observations=list(np.ones((3, 4), np.float32)), actions=[0, 1], rewards=[1.0, 1.0],
                                 terminated=True, len_lookback_buffer=0).to_numpy()
    assert float(module.obs_count) == 0
    learner.update(episodes=[episode])
    assert float(module.obs_count) > 0


def test_learner_lr_schedules_and_setter_are_where_lr_from_config_finds_them():
    """Their effect after a restore: tests/test_lr_after_restore.py."""
    learner = pg_learner()
    assert learner._optimizer_lr_schedules
    optimizer = next(iter(learner._optimizer_lr_schedules))
    learner._set_optimizer_lr(optimizer, lr=0.123)
    assert optimizer.param_groups[0]["lr"] == pytest.approx(0.123)


# -- RLlib: the default actor-critic module -------------------------------------------------


def continuous_pg_module(**settings):
    from smarts_rl.algorithms import pg

    config = pg.Settings(fcnet_hiddens=[8], log_std_max=None, **settings).algorithm_config()
    return config.build_learner(env=gym.make("Pendulum-v1")).module["default_policy"]


def test_pg_builds_its_module_on_the_default_actor_critic_class_and_catalog():
    from ray.rllib.core.rl_module.apis.value_function_api import ValueFunctionAPI

    from smarts_rl.algorithms.actor_critic_module import ActorCriticModule
    from smarts_rl.algorithms.pg_algorithm import PGConfig

    assert issubclass(ActorCriticModule, upstream_rllib.default_actor_critic_module())
    assert issubclass(ActorCriticModule, ValueFunctionAPI)
    spec = PGConfig().get_default_rl_module_spec()
    assert spec.catalog_class is upstream_rllib.default_actor_critic_catalog()
    assert isinstance(continuous_pg_module(), ActorCriticModule)


def test_policy_linear_layers_and_head_outputs_are_the_whole_path_from_observation_to_action_inputs():
    from ray.rllib.core.columns import Columns

    module = continuous_pg_module()
    layers = upstream_rllib.policy_linear_layers(module)
    assert [(m.in_features, m.out_features) for m in layers] == [(3, 8), (8, 2)]  # Pendulum: mean, log std
    obs = torch.rand(5, 3)
    hidden = obs
    for layer in layers[:-1]:
        hidden = torch.tanh(layer(hidden))  # fcnet_activation's default
    with torch.no_grad():
        expected = module.forward_inference({Columns.OBS: obs})[Columns.ACTION_DIST_INPUTS]
        torch.testing.assert_close(layers[-1](hidden), expected)
        torch.testing.assert_close(upstream_rllib.policy_head_outputs(module, obs), expected)
    assert upstream_rllib.policy_linear_layers(torch.nn.Linear(1, 1)) is None


def test_forward_passes_without_rllibs_mode_switch_give_its_outputs_and_leave_the_mode_as_it_was():
    from ray.rllib.core.columns import Columns
    from ray.rllib.core.rl_module.torch.torch_rl_module import TorchRLModule

    module = continuous_pg_module()
    batch = {Columns.OBS: torch.rand(5, 3)}
    for training in (True, False):
        module.train(training)
        for ours, rllibs in ((module.forward_exploration, TorchRLModule.forward_exploration),
                             (module.forward_inference, TorchRLModule.forward_inference)):
            torch.testing.assert_close(ours(batch)[Columns.ACTION_DIST_INPUTS],
                                       rllibs(module, batch)[Columns.ACTION_DIST_INPUTS])
            assert module.training is training
    assert module._mode_free()

    for layer in (torch.nn.Dropout(0.5), torch.nn.BatchNorm1d(3)):  # computing differently in training
        other = continuous_pg_module()
        other.extra = layer
        assert not other._mode_free()
    with_dropout = continuous_pg_module()
    with_dropout.extra = torch.nn.Dropout(0.5)
    with_dropout.train()
    seen = []
    original = with_dropout._forward_inference
    with_dropout._forward_inference = lambda b, **k: (seen.append(with_dropout.training), original(b, **k))[1]
    with_dropout.forward_inference(batch)
    assert seen == [False] and with_dropout.training  # switched to eval for the pass, as RLlib does


def test_is_value_parameter_names_exactly_what_the_value_function_depends_on():
    from ray.rllib.core.columns import Columns

    module = continuous_pg_module()
    named = dict(module.named_parameters())
    value = {name for name in named if upstream_rllib.is_value_parameter(name)}
    assert value and value != set(named)

    def moved_by(output) -> set:
        module.zero_grad(set_to_none=True)
        output.sum().backward()
        return {name for name, p in named.items() if p.grad is not None and p.grad.abs().sum() > 0}

    batch = {Columns.OBS: torch.rand(5, 3)}
    assert moved_by(module.compute_values(batch)) == value
    assert moved_by(module.forward_train(batch)[Columns.ACTION_DIST_INPUTS]) == set(named) - value


# -- RLlib: checkpoints --------------------------------------------------------------------


def test_checkpoint_action_postprocessing_reads_the_env_runners_settings(ray_local, tmp_path):
    from ray.rllib.algorithms.ppo import PPOConfig

    algo = (
        PPOConfig()
        .environment("Pendulum-v1", normalize_actions=False, clip_actions=True)
        .env_runners(num_env_runners=0)
        .rl_module(model_config={"fcnet_hiddens": [4]})
        .build_algo()
    )
    try:
        algo.save_to_path(str(tmp_path / "checkpoint"))
    finally:
        algo.stop()
    assert upstream_rllib.checkpoint_action_postprocessing(tmp_path / "checkpoint") == (False, True)
    assert upstream_rllib.checkpoint_action_postprocessing(tmp_path) is None


def test_an_algorithm_checkpoint_keeps_its_modules_and_marker_where_we_look(tiny_pg, tmp_path):
    from ray.rllib.algorithms.algorithm import Algorithm
    from ray.rllib.core import COMPONENT_LEARNER, COMPONENT_LEARNER_GROUP, COMPONENT_RL_MODULE

    assert upstream_rllib.MODULES_IN_CHECKPOINT == Path(COMPONENT_LEARNER_GROUP, COMPONENT_LEARNER, COMPONENT_RL_MODULE)
    assert upstream_rllib.CHECKPOINT_MARKER == Algorithm.METADATA_FILE_NAME
    checkpoint = tmp_path / "checkpoint"
    tiny_pg.save_to_path(str(checkpoint))
    assert (checkpoint / upstream_rllib.CHECKPOINT_MARKER).is_file()
    assert upstream_rllib.is_algorithm_checkpoint(checkpoint) and not upstream_rllib.is_algorithm_checkpoint(tmp_path)
    modules = upstream_rllib.checkpoint_modules(checkpoint)
    assert list(modules) == ["default_policy"]
    loaded, trained = modules["default_policy"].state_dict(), learner_weights(tiny_pg)
    assert set(loaded) == set(trained)  # the whole module, the value function's weights too
    for name, value in loaded.items():
        np.testing.assert_array_equal(value.numpy(), trained[name], err_msg=name)


def learner_weights(algo, module_id="default_policy") -> dict:
    state = algo.learner_group.get_state(components=f"learner/rl_module/{module_id}")
    return {name: np.asarray(value) for name, value in state["learner"]["rl_module"][module_id].items()}


def test_restore_modules_puts_a_checkpoints_weights_into_the_learner_and_the_env_runners(tiny_pg, tmp_path):
    checkpoint = tmp_path / "checkpoint"
    tiny_pg.save_to_path(str(checkpoint))
    saved = learner_weights(tiny_pg)

    def zero(module):
        with torch.no_grad():
            for tensor in module.state_dict().values():  # weights and buffers
                tensor.zero_()

    tiny_pg.learner_group.foreach_learner(lambda learner: zero(learner.module["default_policy"]))
    zero(tiny_pg.get_module("default_policy"))  # the local env runner's (no remote ones)
    assert not any(value.any() for value in learner_weights(tiny_pg).values())
    upstream_rllib.restore_modules(tiny_pg, checkpoint, {"default_policy": "default_policy"})
    restored = learner_weights(tiny_pg)
    on_runner = tiny_pg.get_module("default_policy").state_dict()  # inference only: no value function
    assert on_runner and set(on_runner) < set(saved)
    for name, value in saved.items():
        np.testing.assert_array_equal(restored[name], value, err_msg=name)
        if name in on_runner:
            np.testing.assert_array_equal(on_runner[name].numpy(), value, err_msg=name)


# -- Tune: its files -----------------------------------------------------------------------


def test_tune_files_are_where_tune_writes_them():
    from fnmatch import fnmatch

    from ray.train._internal.storage import StorageContext
    from ray.tune.execution.tune_controller import TuneController
    from ray.tune.impl.tuner_internal import _TUNER_PKL

    from smarts_rl.upstream import tune_files

    assert tune_files.TUNER_FILE == _TUNER_PKL
    assert tune_files.EXPERIMENT_STATES == TuneController.CKPT_FILE_TMPL.format("*")
    assert fnmatch(StorageContext._make_checkpoint_dir_name(3), tune_files.TRIAL_CHECKPOINTS)


# -- SMARTS --------------------------------------------------------------------------------


def test_restore_current_seed_sets_smarts_seed_and_nothing_else():
    import random

    import smarts.core
    from smarts.env.gymnasium.hiway_env_v1 import HiWayEnvV1

    from smarts_rl.upstream.smarts import restore_current_seed

    smarts.core.seed(5)
    python_state, numpy_state = random.getstate(), np.random.get_state()
    restore_current_seed(9)
    assert smarts.core.current_seed() == 9
    assert HiWayEnvV1.seed.fget(None) == 9  # what an env reports as its seed
    assert random.getstate() == python_state
    assert np.array_equal(np.random.get_state()[1], numpy_state[1])


def test_smarts_builds_and_grows_its_road_map_indexes_through_what_the_scan_wraps(tmp_path):
    """`scan_small_road_map_indexes` wraps what `SumoRoadNetwork._init_rtree` and
    `SumoRoadNetwork.Lane._init_rtree` return: SMARTS must still build the roads' and each lane's
    index there, query them by `intersection`, and grow the roads' index by `add`."""
    import rtree
    from smarts.core.sumo_road_network import SumoRoadNetwork
    from smarts.sstudio.sstypes import MapSpec

    from smarts_rl.upstream.smarts import _ScannedIndex, scan_small_road_map_indexes
    from tests.helpers import three_node_road

    def unwrapped(function):
        return getattr(function, "original", function)

    assert parameters(unwrapped(SumoRoadNetwork._init_rtree)) == ["self", "shapeList", "includeJunctions"]
    assert parameters(unwrapped(SumoRoadNetwork.Lane._init_rtree)) == ["self", "lines"]
    scan_small_road_map_indexes()
    three_node_road(tmp_path / "road")  # a map no other test built: its indexes are built now
    road_map = SumoRoadNetwork.from_spec(MapSpec(str(tmp_path / "road")))
    lanes = road_map.nearest_lanes((50.0, -4.0), 5.0)
    assert lanes and isinstance(road_map._rtree_roads, _ScannedIndex)
    assert isinstance(road_map._rtree_roads.index, rtree.index.Index)
    assert all(isinstance(lane._rtree_lane_fragments, _ScannedIndex) for lane, _ in lanes)
    size = len(road_map._rtree_roads)
    unmade = next(e.getID() for e in road_map._graph.getEdges() if e.getID() not in road_map._roads)
    road_map.road_by_id(unmade)
    assert len(road_map._rtree_roads) == size + 1, "SMARTS adds a road it meets to the index, through `add`"


def test_points_cache_their_numpy_and_shapely_forms_in_the_module_dicts_bound_point_caches_replaces(monkeypatch):
    from smarts.core import coordinates
    from smarts.core.coordinates import Point

    numpy_points, shapely_points = {}, {}
    monkeypatch.setattr(coordinates, "_numpy_points", numpy_points)
    monkeypatch.setattr(coordinates, "_shapely_points", shapely_points)
    point = Point(1.5, 2.5, 0.0)
    array, shapely_point = point.as_np_array, point.as_shapely
    # Read by name at each call: a dict put in their place is the one used.
    assert numpy_points[point] is array and shapely_points[point] is shapely_point
    assert point.as_np_array is array and Point(1.5, 2.5, 0.0).as_np_array is array


# -- Hydra ---------------------------------------------------------------------------------


def test_the_basic_sweepers_job_list_covers_choice_range_and_glob_and_refuses_interval():
    from hydra.errors import HydraException

    from smarts_rl.config import CONF_DIR, compose_config
    from smarts_rl.upstream.hydra import basic_sweep_jobs, is_basic_sweeper

    jobs = basic_sweep_jobs(["agent=glob(*)", "seed=range(0,2)", "algo.lr=0.001"], str(CONF_DIR))
    assert jobs == [[f"agent={a}", f"seed={s}", "algo.lr=0.001"] for a in ("continuous", "laner") for s in (0, 1)]
    with pytest.raises(HydraException, match="does not support sweep type"):
        basic_sweep_jobs(["algo.lr=interval(1e-4,1e-3)"], str(CONF_DIR))
    assert is_basic_sweeper(compose_config([], return_hydra_config=True))


# -- Tune's result grid ----------------------------------------------------------------------


def test_trial_statuses_and_the_last_saved_result_time_are_tunes(ray_local, tmp_path):
    import time
    from pathlib import Path

    from ray import tune

    def trainable(config):
        tune.report({"x": 1})

    started = time.time()
    grid = tune.Tuner(trainable, run_config=tune.RunConfig(storage_path=str(tmp_path), verbose=0)).fit()
    assert list(upstream_tune.trial_statuses(grid).values()) == ["TERMINATED"]

    # ... and the experiment state Tune saved knows when its last result came (PBT's resume reads it).
    from smarts_rl.upstream.tune_files import last_saved_result_time, latest_experiment_state

    state = latest_experiment_state(Path(grid.experiment_path))
    assert started < last_saved_result_time(state) <= time.time()


def test_tunes_interrupt_warnings_are_logged_so_and_dropped(caplog):
    import ray.tune.tune as tune_module

    source = inspect.getsource(tune_module)
    assert tune_module.logger.name == upstream_tune.TUNE_LOGGER
    for text in upstream_tune.TUNE_INTERRUPT_WARNINGS:
        assert f'"{text}' in source, text
    upstream_tune.quiet_interrupt_warnings()
    with caplog.at_level(logging.WARNING, logger=upstream_tune.TUNE_LOGGER):
        tune_module.logger.warning("Stop signal received (e.g. via SIGINT/Ctrl+C), ending Ray Tune run.")
        tune_module.logger.warning("Experiment has been interrupted, but the most recent state was saved.")
        tune_module.logger.warning("another warning")
    assert [r.getMessage() for r in caplog.records] == ["another warning"]


def test_as_logged_is_what_tunes_json_logger_writes_into_result_json(tmp_path):
    from ray.tune.logger import JsonLoggerCallback

    result = {"training_iteration": 1, "a": {"b": np.float32(0.1), "c": np.arange(2), "d": None}}
    class LoggedTrial:  # what the JSON logger asks of a trial
        local_path, checkpoint, config = str(tmp_path), None, {}

        def init_local_path(self):
            pass

    trial = LoggedTrial()
    logger = JsonLoggerCallback()
    logger.log_trial_result(1, trial, result)
    logger.log_trial_end(trial)
    assert json.loads((tmp_path / "result.json").read_text()) == upstream_tune.as_logged(result)


def test_callbacks_by_name_are_built_by_tune_in_place_of_its_own_csv_logger(monkeypatch):
    from ray.tune.logger import CSVLoggerCallback, JsonLoggerCallback
    from ray.tune.utils.callback import _create_default_callbacks

    from smarts_rl.persisted import ProgressTable

    monkeypatch.delenv(upstream_tune.TUNE_CALLBACKS_VARIABLE, raising=False)
    with upstream_tune.callbacks_by_name(["smarts_rl.persisted.ProgressTable"]):
        callbacks = _create_default_callbacks([], air_verbosity=None)
    assert upstream_tune.TUNE_CALLBACKS_VARIABLE not in __import__("os").environ
    csv_loggers = [c for c in callbacks if isinstance(c, CSVLoggerCallback)]
    assert [type(c) for c in csv_loggers] == [ProgressTable]
    assert any(isinstance(c, JsonLoggerCallback) for c in callbacks)


def event_records(path: Path) -> list:
    """The events of one TensorBoard event file (TFRecord framing: length, its CRC, data, its CRC)."""
    import struct

    from tensorboardX.proto.event_pb2 import Event

    data, events, at = path.read_bytes(), [], 0
    while at < len(data):
        (length,) = struct.unpack("<Q", data[at:at + 8])
        event = Event()
        event.ParseFromString(data[at + 12:at + 12 + length])
        events.append(event)
        at += 12 + length + 4
    return events


def test_tbx_logger_from_resume_point_marks_each_sessions_first_step_for_tensorboard_to_purge(tmp_path):
    from tensorboardX.proto.event_pb2 import SessionLog

    class LoggedTrial:  # what the TensorBoard logger asks of a trial
        local_path, evaluated_params = str(tmp_path), {}

        def init_local_path(self):
            pass

    steps_by_session = []
    for steps in ([1, 2, 3], [3, 4]):  # resumed from iteration 2's checkpoint
        time.sleep(1.1)  # an event file is named by its second
        logger, trial = upstream_tune.TBXLoggerFromResumePoint(), LoggedTrial()
        before = set(tmp_path.glob("events.out.tfevents.*"))
        logger.log_trial_start(trial)
        for step in steps:
            logger.log_trial_result(step, trial, {"training_iteration": step, "a": float(step)})
        logger.log_trial_end(trial)
        [events_file] = set(tmp_path.glob("events.out.tfevents.*")) - before
        events = event_records(events_file)
        starts = [e.step for e in events if e.HasField("session_log") and e.session_log.status == SessionLog.START]
        steps_by_session.append((starts, sorted({e.step for e in events if e.HasField("summary")})))
    assert steps_by_session == [([1], [1, 2, 3]), ([3], [3, 4])]


def test_experiment_files_reach_the_run_directory_through_the_copy_we_make_atomic(tmp_path, monkeypatch):
    import pyarrow.fs
    from ray.train._internal import storage

    monkeypatch.setattr(storage, "_pyarrow_fs_copy_files", storage._pyarrow_fs_copy_files)
    assert "_pyarrow_fs_copy_files" in storage._upload_to_fs_path.__code__.co_names
    syncer = storage._FilesystemSyncer(storage_filesystem=pyarrow.fs.LocalFileSystem())
    assert syncer._sync_up_command(str(tmp_path), str(tmp_path))[0] is storage._upload_to_fs_path

    upstream_tune.sync_experiment_files_atomically()
    replaced = []
    real_replace = __import__("os").replace
    monkeypatch.setattr("os.replace", lambda a, b: (replaced.append(Path(b).name), real_replace(a, b)))
    staged = tmp_path / "staged"
    (staged / "trial_a").mkdir(parents=True)
    (staged / "experiment_state-1.json").write_text("{}")
    (staged / "trial_a" / "progress.csv").write_text("a\n1\n")
    storage._upload_to_fs_path(str(staged), pyarrow.fs.LocalFileSystem(), str(tmp_path / "run"))
    assert (tmp_path / "run" / "trial_a" / "progress.csv").read_text() == "a\n1\n"
    assert sorted(replaced) == ["experiment_state-1.json", "progress.csv"]
    assert sorted(p.name for p in (tmp_path / "run").rglob("*")) == ["experiment_state-1.json", "progress.csv", "trial_a"]


def test_ray_starts_its_processes_through_console_popen_which_dies_with_the_driver():
    """`start_ray_processes_in_their_own_process_group` replaces `services.ConsolePopen`, which
    `start_ray_process` looks up at each call; Ray's own `preexec_fn` keeps them dying with the driver."""
    from ray._private import services

    source = inspect.getsource(services.start_ray_process)
    assert "ConsolePopen(" in source and "set_kill_on_parent_death_linux" in source
    upstream_ray.start_ray_processes_in_their_own_process_group()
    upstream_ray.start_ray_processes_in_their_own_process_group()  # idempotent
    assert services.ConsolePopen.own_process_group and services.ConsolePopen.__mro__[1].__name__ == "ConsolePopen"
    child = services.ConsolePopen(["sleep", "5"])
    try:
        assert os.getpgid(child.pid) == child.pid != os.getpgid(0)
        assert os.getsid(child.pid) == os.getsid(0)  # the driver's session: ending it ends them
    finally:
        child.kill()
        child.wait()


def test_tune_encodes_run_metadata_without_growing_log_once_keys():
    """Tune's encoder keys `log_once` by each unencodable object's text (a trial's metric deques,
    new at every result): the set grows without `stop_encoder_log_keys_growing`, not with it."""
    from collections import deque

    from ray.tune.utils import serialization
    from ray.util import debug

    source = inspect.getsource(serialization.TuneFunctionEncoder.default)
    assert 'log_once(f"{}{{str(obj)}}")'.format(upstream_tune.ENCODER_LOG_KEY) in source.replace(" ", "")

    def keys_added(values) -> int:
        before = len(debug._logged)
        for value in values:
            json.dumps({"last": deque([value], maxlen=5)}, cls=serialization.TuneFunctionEncoder)
        return len(debug._logged) - before

    original = serialization.log_once
    try:
        assert keys_added([0.5 + i for i in range(50)]) == 50  # the bug is still there
        upstream_tune.stop_encoder_log_keys_growing()
        upstream_tune.stop_encoder_log_keys_growing()  # idempotent
        assert keys_added([1000.5 + i for i in range(50)]) <= 1
    finally:
        serialization.log_once = original
