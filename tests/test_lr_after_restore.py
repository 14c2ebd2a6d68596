"""After a restore, optimizers run at the lr of the Learner's config (the PBT pitfall)."""

import gymnasium as gym
import numpy as np
import pytest

from ray.rllib.algorithms.ppo import PPOConfig
from ray.rllib.core import DEFAULT_MODULE_ID
from ray.rllib.env.single_agent_episode import SingleAgentEpisode
from ray.rllib.utils.metrics import NUM_ENV_STEPS_SAMPLED_LIFETIME

from smarts_rl.algorithms import pg, ppo

CARTPOLE = gym.make("CartPole-v1")


def learner(module, **settings):
    return module.Settings(**settings).algorithm_config().build_learner(env=CARTPOLE)


def lrs(learner):
    optimizers = learner.get_optimizers_for_module(DEFAULT_MODULE_ID)
    return sorted(opt.param_groups[0]["lr"] for _, opt in optimizers)


def trained_pg_state(lr, env_steps):
    old = learner(pg, lr=lr, fcnet_hiddens=[8])
    obs = list(np.zeros((3, 4), np.float32))
    episode = SingleAgentEpisode(observations=obs, actions=[0, 1], rewards=[1.0, 1.0],
                                 terminated=True, len_lookback_buffer=0).to_numpy()
    old.update(episodes=[episode], timesteps={NUM_ENV_STEPS_SAMPLED_LIFETIME: env_steps})
    return old.get_state()


@pytest.mark.parametrize("module", [pg, ppo], ids=["pg", "ppo"])
def test_new_fixed_lr_wins_over_the_checkpoints(module):
    old_state = learner(module, lr=0.001, fcnet_hiddens=[8]).get_state()
    new = learner(module, lr=0.0005, fcnet_hiddens=[8])
    new.set_state(old_state)
    assert lrs(new) and set(lrs(new)) == {0.0005}


def test_lr_schedule_resumes_at_the_checkpoints_env_step():
    old_state = trained_pg_state(lr=0.001, env_steps=1000)
    new = learner(pg, lr=[[0, 0.002], [2000, 0.0002]], fcnet_hiddens=[8])
    new.set_state(old_state)
    # Halfway through the linear schedule.
    assert lrs(new) == pytest.approx([0.0011, 0.0011])


def test_rllib_alone_restores_the_checkpoints_lr():
    """Why the mixin exists. If this fails, RLlib fixed it and LrFromConfig may go."""
    def plain_ppo_learner(lr):
        return PPOConfig().training(lr=lr).build_learner(env=CARTPOLE)

    old_state = plain_ppo_learner(0.001).get_state()
    new = plain_ppo_learner(0.0005)
    new.set_state(old_state)
    assert set(lrs(new)) == {0.001}
