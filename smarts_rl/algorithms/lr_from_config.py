"""Learner mixin: after a restore, the optimizer runs at the lr of the *config*.

Why: Population Based Training exploits by building a trial with a mutated
config (say a new `lr`) and restoring another trial's checkpoint into it. RLlib's
`TorchLearner` restores optimizers with `load_state_dict`, which also restores
each param group's `lr`, so the checkpoint's old lr is used for the next
gradient step (RLlib's lr Scheduler only re-applies the config's lr *after* that
step). With one gradient step per batch (PG), that is a whole iteration trained
at the wrong lr, and the mutation is invisible until then.

Put this mixin before the Learner class (`class L(LrFromConfig, TorchLearner)`).
It also stores the env-step count the lr schedule had reached, so a restored
schedule continues where the checkpoint left off instead of at timestep 0.
"""

from typing import Any, Dict

from ray.rllib.utils.metrics import NUM_ENV_STEPS_SAMPLED_LIFETIME

LR_SCHEDULE_TIMESTEP = "lr_schedule_timestep"


class LrFromConfig:
    _lr_schedule_timestep: int = 0

    def after_gradient_based_update(self, *, timesteps: Dict[str, Any]) -> None:
        super().after_gradient_based_update(timesteps=timesteps)
        self._lr_schedule_timestep = int(
            timesteps.get(NUM_ENV_STEPS_SAMPLED_LIFETIME, 0) or 0
        )

    def get_state(self, *args, **kwargs):
        state = super().get_state(*args, **kwargs)
        state[LR_SCHEDULE_TIMESTEP] = self._lr_schedule_timestep
        return state

    def set_state(self, state) -> None:
        super().set_state(state)
        self._lr_schedule_timestep = int(
            state.get(LR_SCHEDULE_TIMESTEP, self._lr_schedule_timestep)
        )
        self.apply_configured_lr()

    def apply_configured_lr(self) -> None:
        """Sets every optimizer's lr to its config value (or schedule value now)."""
        for optimizer, schedule in self._optimizer_lr_schedules.items():
            lr = schedule.update(timestep=self._lr_schedule_timestep)
            self._set_optimizer_lr(optimizer, lr=float(lr))
