"""PG's learner without Ray: returns, the loss on a hand-built batch, one update."""

import math

import gymnasium as gym
import numpy as np
import pytest
import torch

from ray.rllib.core import DEFAULT_MODULE_ID
from ray.rllib.core.columns import Columns
from ray.rllib.env.single_agent_episode import SingleAgentEpisode

from smarts_rl.algorithms import pg
from smarts_rl.algorithms.pg_learner import ADVANTAGES, VALUE_TARGETS, discounted_returns

CARTPOLE = gym.make("CartPole-v1")


def make_learner(**settings):
    config = pg.Settings(**settings).algorithm_config()
    return config.build_learner(env=CARTPOLE)


def episode(rewards, actions, *, terminated, truncated=False, seed=0):
    obs = np.random.default_rng(seed).normal(size=(len(rewards) + 1, 4)).astype(np.float32)
    return SingleAgentEpisode(
        observations=list(obs),
        actions=list(actions),
        rewards=list(rewards),
        terminated=terminated,
        truncated=truncated,
        len_lookback_buffer=0,
    ).to_numpy()


def zero_policy_constant_value(learner, value):
    """Zero every weight: uniform action probabilities, V(s) = `value` for all s."""
    module = learner.module[DEFAULT_MODULE_ID]
    with torch.no_grad():
        for p in module.parameters():
            p.zero_()
        module.vf.net.mlp[-1].bias.fill_(value)
    return module


def test_discounted_returns_by_hand():
    # G2 = 3, G1 = 2 + 0.5*3, G0 = 1 + 0.5*3.5
    np.testing.assert_allclose(discounted_returns([1, 2, 3], 0.5), [2.75, 3.5, 3.0])
    # Bootstrapped with V(s_3) = 4: G2 = 3 + 0.5*4 = 5, G1 = 4.5, G0 = 3.25
    np.testing.assert_allclose(discounted_returns([1, 2, 3], 0.5, 4.0), [3.25, 4.5, 5.0])


# A terminated episode (rewards 1,2,3) and a time-limit-truncated one (rewards 1,1),
# gamma 0.5, V(s) = 1 everywhere:
#   terminated: G = [2.75, 3.5, 3.0]            A = G - 1 = [1.75, 2.5, 2.0]
#   truncated:  G = [1 + .5*1.5, 1 + .5*1] = [1.75, 1.5] (bootstrap V(s_last)=1)
#                                               A = [0.75, 0.5]
RETURNS = [2.75, 3.5, 3.0, 1.75, 1.5]
ADVANTAGES_BY_HAND = [1.75, 2.5, 2.0, 0.75, 0.5]


def hand_built_episodes():
    return [
        episode([1, 2, 3], [0, 1, 0], terminated=True, seed=1),
        episode([1, 1], [1, 1], terminated=False, truncated=True, seed=2),
    ]


def test_reward_to_go_and_advantages_in_train_batch():
    learner = make_learner(gamma=0.5, baseline="value", fcnet_hiddens=[8])
    zero_policy_constant_value(learner, 1.0)
    # The learner connector pipeline is exactly what `update()` trains on.
    batch = learner._learner_connector(
        rl_module=learner.module, batch={}, episodes=hand_built_episodes(),
        shared_data={}, metrics=learner.metrics,
    )[DEFAULT_MODULE_ID]
    real = batch[Columns.LOSS_MASK].numpy()  # drops the artificial last timesteps
    assert real.tolist() == [True, True, True, False, True, True, False]
    np.testing.assert_allclose(batch[VALUE_TARGETS].numpy()[real], RETURNS, rtol=1e-6)
    np.testing.assert_allclose(batch[ADVANTAGES].numpy()[real], ADVANTAGES_BY_HAND, rtol=1e-6)


@pytest.mark.parametrize("lambda_, advantages", [
    # TD errors with gamma 0.5, V = 1: terminated [0.5, 1.5, 2.0] (V after the end is 0),
    # truncated [0.5, 0.5] (bootstrapped with V(s_last) = 1).
    (0.0, [0.5, 1.5, 2.0, 0.5, 0.5]),
    # gamma * lambda = 0.25: A2 = 2.0, A1 = 1.5 + 0.25 * 2.0, A0 = 0.5 + 0.25 * 2.0; 0.5 + 0.25 * 0.5.
    (0.5, [1.0, 2.0, 2.0, 0.625, 0.5]),
])
def test_gae_advantages_by_hand_with_the_same_value_targets(lambda_, advantages):
    learner = make_learner(gamma=0.5, lambda_=lambda_, baseline="value", fcnet_hiddens=[8])
    zero_policy_constant_value(learner, 1.0)
    batch = learner._learner_connector(
        rl_module=learner.module, batch={}, episodes=hand_built_episodes(),
        shared_data={}, metrics=learner.metrics,
    )[DEFAULT_MODULE_ID]
    real = batch[Columns.LOSS_MASK].numpy()
    np.testing.assert_allclose(batch[VALUE_TARGETS].numpy()[real], RETURNS, rtol=1e-6)
    np.testing.assert_allclose(batch[ADVANTAGES].numpy()[real], advantages, rtol=1e-6)


def test_gae_needs_the_value_baseline():
    with pytest.raises(ValueError, match="lambda_"):
        pg.Settings(lambda_=0.95, baseline="none")
    with pytest.raises(ValueError, match="lambda_"):
        pg.Settings(lambda_=1.5)


def test_without_baseline_returns_are_the_advantages_and_truncation_is_not_bootstrapped():
    learner = make_learner(gamma=0.5, baseline="none", fcnet_hiddens=[8])
    batch = learner._learner_connector(
        rl_module=learner.module, batch={}, episodes=hand_built_episodes(),
        shared_data={}, metrics=learner.metrics,
    )[DEFAULT_MODULE_ID]
    assert Columns.LOSS_MASK not in batch
    expected = [2.75, 3.5, 3.0, 1.5, 1.0]
    np.testing.assert_allclose(batch[VALUE_TARGETS].numpy(), expected, rtol=1e-6)
    np.testing.assert_allclose(batch[ADVANTAGES].numpy(), expected, rtol=1e-6)


def test_loss_on_hand_built_batch():
    learner = make_learner(
        gamma=0.5, baseline="value", normalize_advantages=False,
        entropy_coeff=0.1, vf_loss_coeff=0.5, vf_iters=1, fcnet_hiddens=[8],
    )
    zero_policy_constant_value(learner, 1.0)
    results = learner.update(episodes=hand_built_episodes())
    got = {k: float(v.peek()) for k, v in results[DEFAULT_MODULE_ID].items()
           if k in ("policy_loss", "policy_entropy", "vf_loss", "total_loss",
                    "returns_mean", "advantages_mean")}
    # Uniform policy over 2 actions: logp = -log 2, entropy = log 2.
    log2 = math.log(2)
    policy_loss = log2 * np.mean(ADVANTAGES_BY_HAND)  # -mean(-log2 * A)
    vf_loss = np.mean(np.square(ADVANTAGES_BY_HAND))  # (V - G)^2 = A^2
    assert got["policy_loss"] == pytest.approx(policy_loss, rel=1e-5)
    assert got["policy_entropy"] == pytest.approx(log2, rel=1e-5)
    assert got["vf_loss"] == pytest.approx(vf_loss, rel=1e-5)
    assert got["returns_mean"] == pytest.approx(np.mean(RETURNS), rel=1e-5)
    assert got["advantages_mean"] == pytest.approx(np.mean(ADVANTAGES_BY_HAND), rel=1e-5)
    assert got["total_loss"] == pytest.approx(
        policy_loss - 0.1 * log2 + 0.5 * vf_loss, rel=1e-5
    )


def test_normalized_advantages_have_zero_mean_so_uniform_policy_loss_is_zero():
    learner = make_learner(gamma=0.5, baseline="value", normalize_advantages=True,
                           fcnet_hiddens=[8])
    zero_policy_constant_value(learner, 1.0)
    results = learner.update(episodes=hand_built_episodes())
    assert float(results[DEFAULT_MODULE_ID]["policy_loss"].peek()) == pytest.approx(0, abs=1e-6)


def action_logp(module, obs, action):
    with torch.no_grad():
        out = module.forward_inference({Columns.OBS: torch.as_tensor(obs[None])})
    dist = module.get_inference_action_dist_cls().from_logits(out[Columns.ACTION_DIST_INPUTS])
    return float(dist.logp(torch.tensor([action])))


def test_positive_advantage_action_gains_log_probability():
    learner = make_learner(baseline="none", normalize_advantages=False, lr=0.01,
                           fcnet_hiddens=[16])
    module = learner.module[DEFAULT_MODULE_ID]
    one_step = episode([1.0], [1], terminated=True, seed=3)
    obs = one_step.get_observations(0)
    before = action_logp(module, obs, 1)
    learner.update(episodes=[one_step])
    after = action_logp(module, obs, 1)
    assert after > before + 1e-3


def test_value_function_takes_vf_iters_steps_policy_takes_one():
    learner = make_learner(baseline="value", vf_iters=5, fcnet_hiddens=[8])
    learner.update(episodes=hand_built_episodes())
    steps = {
        name: max(int(s["step"]) for s in opt.state.values())
        for name, opt in learner.get_optimizers_for_module(DEFAULT_MODULE_ID)
    }
    assert steps == {"policy": 1, "value": 5}
