"""Every use of Ray's, RLlib's, Tune's and SMARTS's internals, and every patch of their behaviour:
the checklist for the next Ray or SMARTS upgrade (written against Ray 2.60.0 and SMARTS 2.0.1).

Each is one function, or one small mixin class where RLlib or Tune wants a subclass, whose
docstring names the upstream file (and issue or pull request) it relies on; tests/test_upstream.py
(and the tests named in docs/workarounds.md#upgrading-ray) fail when upstream changes under it.
On an upgrade, run those tests, then re-check what each module relies on:

- `ray.py`: Ray core. `ray._private.utils.get_dashboard_dependency_error`; the loggers of
  `ray._private.authentication.authentication_token_setup` and `ray._common.deprecation`.
- `tune.py`: Tune. `Tuner.restore(_resume_config=...)`; a trial checkpoint manager's
  `_checkpoint_config`; PopulationBasedTraining's `_get_new_config`, `_log_config_on_step`,
  `_trial_state`, `_next_perturbation_sync` (and a stall of synchronous PBT after a resume);
  `RAY_AIR_NEW_OUTPUT`; the text of the PBT actor-reuse warning.
- `rllib.py`: RLlib. Env runners' `_try_env_reset` (unbounded retries; a seed at every
  reset), their `_env_to_module` and `_module_to_env` pipelines (timed per piece) and the torch
  RLModule's mode switch around every forward pass; `Algorithm.restore_env_runners` (a step with
  every env runner down); `AlgorithmConfig._model_config_auto_includes` and `_value_error`; the
  Learner's `_learner_connector`, `_params`, `_optimizer_lr_schedules`, `_set_optimizer_lr` and
  `TorchLearner._uncompiled_update` (and the lr a restore brings back); PPO's default
  actor-critic module, which PG borrows (its class and catalog, its `pi` and
  `encoder.actor_encoder`, the names of its value-function parameters); an Algorithm checkpoint's
  layout (where its RLModules and its marker file are, the component path of one module's state)
  and the file that holds the env runner's action post-processing.
- `hydra.py`: Hydra 1.3.2. The basic sweeper's job list (`BasicSweeper.split_arguments`, with a
  `ConfigLoaderImpl` for glob sweeps), so that every job of a multirun is checked before the first.
- `tune_files.py`: where Tune keeps an experiment's own files (`tuner.pkl`,
  `experiment_state-*.json`, `checkpoint_<n>/`), read without loading Tune.

- `smarts.py`: SMARTS. Its bugs met while building scenarios (tests/test_workarounds.py), the
  patches that only make training's simulations faster (a road map kept per map, `sumo` reloaded
  between episodes, small road-map indexes scanned: `default_map_builder._clear_cache`,
  `TraciConn.must_reset`, `SumoRoadNetwork._init_rtree` and `SumoRoadNetwork.Lane._init_rtree`),
  the bound on its point caches (`coordinates._numpy_points`, `_shapely_points`) and the setting
  of its private global seed. The bugs that crash or mislead a driving agent are fixed in
  `smarts_rl/agents/smarts_fixes.py`, because an exported agent ships that folder without the
  rest of smarts_rl.

The mixins are combined into our classes in their own modules (`algorithms/pg_algorithm.py`,
...); what Tune and RLlib pickle is handed over by its promised name (`smarts_rl/persisted.py`).
"""
