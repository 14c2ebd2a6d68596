"""RLlib's PPO through our wrapper: trains, checkpoints, honours a PBT lr change."""

import pytest
from ray.rllib.algorithms.ppo import PPO
from ray.rllib.core import DEFAULT_MODULE_ID

from smarts_rl.algorithms import ppo


def test_ppo_trains_and_takes_a_mutated_lr_after_restore(ray_local, tmp_path):
    settings = ppo.Settings(lr=0.001, train_batch_size=256, minibatch_size=64,
                            num_epochs=2, fcnet_hiddens=[16])
    config = settings.algorithm_config().environment("CartPole-v1").env_runners(
        num_env_runners=0
    )
    old = config.build_algo()
    result = old.train()
    assert result["learners"][DEFAULT_MODULE_ID]["default_optimizer_learning_rate"] == 0.001
    checkpoint = old.save_to_path(tmp_path / "checkpoint")
    old.stop()

    new = PPO(config=dict(config.to_dict(), lr=0.0002))  # how PBT builds the exploiting trial
    new.restore_from_path(checkpoint)
    [call] = new.learner_group.foreach_learner(
        lambda learner: learner.get_optimizer(DEFAULT_MODULE_ID).param_groups[0]["lr"]
    )
    assert call.get() == pytest.approx(0.0002)
    new.stop()


def test_register_keeps_ppo_runnable_by_name(ray_local):
    from ray.tune.registry import get_trainable_cls

    from smarts_rl.persisted import PPO as OurPPO

    settings = ppo.Settings()
    settings.register(settings.algorithm_config())
    settings.register(settings.algorithm_config())  # harmless when repeated
    assert get_trainable_cls("PPO") is OurPPO and issubclass(OurPPO, PPO)  # RLlib's, crash-tolerant
