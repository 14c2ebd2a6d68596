"""PG as a whole RLlib Algorithm: learning, checkpoints, multi-agent, continuous, Tune."""

import numpy as np
import pytest
import torch

from ray.rllib.algorithms.algorithm import Algorithm
from ray.rllib.core import DEFAULT_MODULE_ID
from ray.rllib.core.columns import Columns
from ray.rllib.examples.envs.classes.multi_agent import MultiAgentCartPole

from smarts_rl.algorithms import pg


def small_config(env="CartPole-v1", **settings):
    settings = {"train_batch_size": 400, "fcnet_hiddens": [32], **settings}
    return (
        pg.Settings(**settings).algorithm_config()
        .environment(env)
        .env_runners(num_env_runners=0)
        .debugging(seed=0)
    )


def action_dist_inputs(algo, obs, module_id=DEFAULT_MODULE_ID):
    module = algo.get_module(module_id)
    with torch.no_grad():
        out = module.forward_inference({Columns.OBS: torch.as_tensor(obs)})
    return out[Columns.ACTION_DIST_INPUTS].numpy()


def optimizer_lrs(algo):
    [call] = algo.learner_group.foreach_learner(
        lambda learner: {
            name: opt.param_groups[0]["lr"]
            for name, opt in learner.get_optimizers_for_module(DEFAULT_MODULE_ID)
        }
    )
    return call.get()


def test_pg_configs_defaults_and_baselines_are_the_algo_settings_ones():
    # pg_algorithm.py states them again rather than import its own builder's module (pg.py).
    from smarts_rl.algorithms.pg_algorithm import BASELINES, PGConfig

    config, settings = PGConfig(), pg.Settings()
    for key in ("lr", "gamma", "lambda_", "train_batch_size", "grad_clip", "batch_mode", "baseline",
                "normalize_advantages", "entropy_coeff", "vf_loss_coeff", "vf_iters"):
        assert getattr(config, key) == getattr(settings, key), key
    assert BASELINES == pg.BASELINES


def test_short_cartpole_run_improves_return(ray_local):
    config = small_config(train_batch_size=1000, lr=0.003, fcnet_hiddens=[64, 64])
    algo = config.build_algo()
    # RLlib's episode_return_mean: the mean over one iteration's episodes.
    returns = [algo.train()["env_runners"]["episode_return_mean"] for _ in range(12)]
    algo.stop()
    # A random CartPole policy lasts ~22 steps; 12k steps of PG at least double it.
    assert np.mean(returns[-3:]) > 2 * returns[0], returns


def test_save_restore_gives_same_action_distribution(ray_local, tmp_path):
    algo = small_config().build_algo()
    algo.train()
    obs = np.random.default_rng(0).normal(size=(16, 4)).astype(np.float32)
    expected = action_dist_inputs(algo, obs)
    checkpoint = algo.save_to_path(tmp_path / "checkpoint")
    algo.stop()

    from_checkpoint = Algorithm.from_checkpoint(checkpoint)
    np.testing.assert_allclose(action_dist_inputs(from_checkpoint, obs), expected, rtol=1e-6)
    from_checkpoint.stop()

    fresh = small_config().debugging(seed=1).build_algo()
    assert not np.allclose(action_dist_inputs(fresh, obs), expected)
    fresh.restore_from_path(checkpoint)
    np.testing.assert_allclose(action_dist_inputs(fresh, obs), expected, rtol=1e-6)
    # The EnvRunner samples with the restored weights too, not just the learner.
    runner_module = fresh.env_runner.module  # single-agent: the RLModule itself
    with torch.no_grad():
        out = runner_module.forward_inference({Columns.OBS: torch.as_tensor(obs)})
    np.testing.assert_allclose(out[Columns.ACTION_DIST_INPUTS].numpy(), expected, rtol=1e-6)
    fresh.stop()


def test_lr_changed_by_pbt_is_the_optimizer_lr_after_restore(ray_local, tmp_path):
    old = small_config(lr=0.001).build_algo()
    old.train()
    checkpoint = old.save_to_path(tmp_path / "checkpoint")
    old.stop()

    # What PBT does on exploit: the trial's config dict (Tune turns the
    # AlgorithmConfig into a dict) with a mutated lr, then restore a checkpoint.
    mutated = dict(small_config(lr=0.001).to_dict(), lr=0.0005)
    new = small_config(lr=0.001).algo_class(config=mutated)
    new.restore_from_path(checkpoint)
    assert optimizer_lrs(new) == {"policy": 0.0005, "value": 0.0005}
    learner_results = new.train()["learners"][DEFAULT_MODULE_ID]
    assert learner_results["policy_learning_rate"] == pytest.approx(0.0005)
    new.stop()


@pytest.mark.parametrize(
    "policies, baseline, batch_mode",
    [
        ({"p0", "p1"}, "value", "truncate_episodes"),  # one policy per agent
        ({"shared"}, "none", "complete_episodes"),  # one policy for both agents
    ],
)
def test_multi_agent_cartpole(ray_local, policies, baseline, batch_mode):
    mapping = (lambda agent_id, episode, **kw: f"p{agent_id}") if len(policies) == 2 else (
        lambda agent_id, episode, **kw: "shared"
    )
    config = (
        (
            pg.Settings(train_batch_size=300, fcnet_hiddens=[16], baseline=baseline,
                        batch_mode=batch_mode)
        ).algorithm_config()
        .environment(MultiAgentCartPole, env_config={"num_agents": 2})
        .env_runners(num_env_runners=0)
        .multi_agent(policies=policies, policy_mapping_fn=mapping)
    )
    algo = config.build_algo()
    obs = np.random.default_rng(0).normal(size=(4, 4)).astype(np.float32)
    before = {p: action_dist_inputs(algo, obs, p) for p in policies}
    for _ in range(2):
        result = algo.train()
    for p in policies:
        assert np.isfinite(result["learners"][p]["policy_loss"])
        assert not np.allclose(action_dist_inputs(algo, obs, p), before[p])
    if len(policies) == 2:
        assert not np.allclose(action_dist_inputs(algo, obs, "p0"),
                               action_dist_inputs(algo, obs, "p1"))
    algo.stop()


def test_continuous_actions_pendulum(ray_local):
    algo = small_config("Pendulum-v1").build_algo()
    module = algo.get_module()
    assert module.get_train_action_dist_cls().__name__ == "TorchDiagGaussian"
    # The configured initial spread (log_std_init=-1 by default), in every state alike.
    obs = np.random.default_rng(0).normal(size=(8, 3)).astype(np.float32)
    assert action_dist_inputs(algo, obs)[:, 1] == pytest.approx(-1.0)
    for _ in range(2):
        learners = algo.train()["learners"][DEFAULT_MODULE_ID]
    assert np.isfinite(learners["policy_loss"]) and np.isfinite(learners["vf_loss"])
    algo.stop()


@pytest.mark.parametrize("log_std_init,expected", [(-2.0, -2.0), (None, None)])
def test_log_std_init_sets_the_initial_spread_of_continuous_actions(ray_local, log_std_init, expected):
    # No ceiling, which would hide RLlib's own start.
    algo = small_config("Pendulum-v1", log_std_init=log_std_init, log_std_max=None).build_algo()
    obs = np.random.default_rng(0).normal(size=(8, 3)).astype(np.float32)
    log_std = action_dist_inputs(algo, obs)[:, 1]
    # The env runner's copy acts with the same spread as the learner's.
    runner = algo.env_runner.module.forward_inference({Columns.OBS: torch.as_tensor(obs)})
    assert runner[Columns.ACTION_DIST_INPUTS].detach().numpy()[:, 1] == pytest.approx(log_std)
    algo.stop()
    if expected is None:  # RLlib's own start: near 0, varying with the state
        assert np.all(np.abs(log_std) < 0.5) and np.ptp(log_std) > 0
    else:
        assert log_std == pytest.approx(expected)


def test_log_std_max_lowers_the_spread_on_its_schedule_in_learner_and_env_runner(ray_local, tmp_path):
    schedule = [[0, -1.0], [800, -2.0]]
    algo = small_config("Pendulum-v1", log_std_max=schedule).build_algo()
    obs = np.random.default_rng(0).normal(size=(8, 3)).astype(np.float32)
    assert action_dist_inputs(algo, obs)[:, 1] == pytest.approx(-1.0)
    for _ in range(2):
        result = algo.train()
    steps = result["num_env_steps_sampled_lifetime"]
    ceiling = float(np.interp(steps, [0, 800], [-1.0, -2.0]))
    assert ceiling < -1.4  # the schedule moved
    assert result["learners"][DEFAULT_MODULE_ID]["log_std_max"] == pytest.approx(ceiling)
    # The env runner samples with the learner's ceiling: it came with the weights.
    runner = algo.env_runner.module.forward_inference({Columns.OBS: torch.as_tensor(obs)})
    assert runner[Columns.ACTION_DIST_INPUTS].detach().numpy()[:, 1] == pytest.approx(ceiling, abs=1e-5)
    # The mean action is untouched: it is what evaluation and export use.
    assert np.ptp(runner[Columns.ACTION_DIST_INPUTS].detach().numpy()[:, 0]) > 0
    checkpoint = algo.save_to_path(str(tmp_path / "ckpt"))
    algo.stop()
    restored = Algorithm.from_checkpoint(checkpoint)
    assert action_dist_inputs(restored, obs)[:, 1] == pytest.approx(ceiling, abs=1e-5)
    restored.stop()


def test_running_observation_stats_merge_batches_exactly():
    from smarts_rl.agents.policy_network import OBS_CLIP

    import gymnasium as gym

    config = small_config("Pendulum-v1", normalize_observations=True)
    algo_module = config.get_rl_module_spec(
        spaces={DEFAULT_MODULE_ID: (gym.spaces.Box(-10, 10, (3,)), gym.spaces.Box(-1, 1, (1,)))}
    ).build()
    rng = np.random.default_rng(0)
    batches = [rng.normal(loc=3.0, scale=s, size=(n, 3)).astype(np.float32) for s, n in ((0.1, 5), (2.0, 40), (0.5, 1))]
    # Before any batch: the identity.
    obs = torch.as_tensor(batches[0])
    assert torch.equal(algo_module.normalized(obs), obs)
    for batch in batches:
        algo_module.update_observation_stats(torch.as_tensor(batch))
    together = np.concatenate(batches)
    assert float(algo_module.obs_count) == len(together)
    np.testing.assert_allclose(algo_module.obs_mean.numpy(), together.mean(0), rtol=1e-5)
    np.testing.assert_allclose(algo_module.obs_var.numpy(), together.var(0), rtol=1e-4)
    standardised = algo_module.normalized(torch.as_tensor(together)).numpy()
    np.testing.assert_allclose(standardised.mean(0), 0.0, atol=1e-4)
    np.testing.assert_allclose(standardised.std(0), 1.0, rtol=1e-3)
    far = torch.full((1, 3), 1e6)
    assert torch.all(algo_module.normalized(far) == OBS_CLIP)


def test_normalize_observations_stats_follow_the_batches_into_env_runner_and_checkpoint(ray_local, tmp_path):
    algo = small_config("Pendulum-v1", normalize_observations=True).env_runners(num_env_runners=1).build_algo()
    obs = np.random.default_rng(0).normal(size=(8, 3)).astype(np.float32) * 3
    for _ in range(2):
        result = algo.train()
    learner_module = algo.get_module()
    # Every real step of both batches (Pendulum's episodes are truncated, so PG adds one artificial
    # step to each, which the statistics must leave out).
    assert float(learner_module.obs_count) == result["num_env_steps_sampled_lifetime"]
    assert np.all(learner_module.obs_var.numpy() > 0) and not np.allclose(learner_module.obs_mean.numpy(), 0)
    expected = action_dist_inputs(algo, obs)
    # The remote env runner samples with the learner's statistics: they came with the weights.
    [runner_out] = algo.env_runner_group.foreach_env_runner(
        lambda runner: runner.module.forward_inference({Columns.OBS: torch.as_tensor(obs)})[
            Columns.ACTION_DIST_INPUTS].numpy(),
        local_env_runner=False,
    )
    np.testing.assert_allclose(runner_out, expected, rtol=1e-5)
    # Standardising is part of the action: without it the same weights act differently.
    with torch.no_grad():
        raw = learner_module.pi(learner_module.encoder.actor_encoder({Columns.OBS: torch.as_tensor(obs)})["encoder_out"])
    assert not np.allclose(raw.numpy(), expected)
    checkpoint = algo.save_to_path(str(tmp_path / "ckpt"))
    algo.stop()
    restored = Algorithm.from_checkpoint(checkpoint)
    np.testing.assert_allclose(action_dist_inputs(restored, obs), expected, rtol=1e-5)
    restored.stop()


@pytest.mark.parametrize("value", [[[10, -1.0], [20, -2.0]], "low", [[0, -1.0]]])
def test_log_std_max_rejects_malformed_schedules(value):
    with pytest.raises(ValueError, match="algo.log_std_max"):
        pg.Settings(log_std_max=value)


def test_tune_runs_pg_by_name(ray_local, tmp_path):
    from ray import tune

    pg.Settings().register(pg.Settings().algorithm_config())
    tuner = tune.Tuner(
        "PG",
        param_space=small_config(train_batch_size=200),
        run_config=tune.RunConfig(
            stop={"training_iteration": 1}, storage_path=str(tmp_path), verbose=0
        ),
    )
    [result] = tuner.fit()
    assert result.error is None
    assert result.metrics["training_iteration"] == 1


@pytest.mark.parametrize("batch_mode", ["complete_episodes", "truncate_episodes"])
def test_each_env_runner_samples_its_share_of_the_batch_in_one_call(ray_local, batch_mode):
    # RLlib's synchronous sampling meets the runners after every episode (one call per episode
    # each); ours asks each runner once per batch for its share.
    config = small_config(train_batch_size=400, batch_mode=batch_mode).env_runners(num_env_runners=2)
    algo = config.build_algo()
    try:
        episodes, results = algo.sample_train_batch()
    finally:
        algo.stop()
    assert len(results) == 2  # one call per runner
    assert sum(e.env_steps() for e in episodes) >= 400
    if batch_mode == "complete_episodes":
        assert len(episodes) > 2 and all(e.is_done for e in episodes)  # CartPole's random episodes: ~22 steps


def test_an_iteration_logs_its_own_sampling_learning_and_sync_seconds(ray_local):
    algo = small_config().build_algo()
    try:
        results = [algo.train() for _ in range(2)]
    finally:
        algo.stop()
    for result in results:  # the iteration's own seconds, not RLlib's smoothed timers
        this_iter = result["timers"]["this_iter"]
        parts = [this_iter[k] for k in ("env_runner_sampling_timer", "learner_update_timer", "synch_weights")]
        assert all(p > 0 for p in parts[:2]) and sum(parts) <= result["time_this_iter_s"]
    assert results[1]["timers"]["this_iter"]["env_runner_sampling_timer"] != \
        results[1]["timers"]["env_runner_sampling_timer"]
