"""RL algorithms the training driver can pick with `algo=<name>`.

Each module (`pg`, `ppo`) exposes the same contract: `Settings` (the schema of
`conf/algo/<name>.yaml`), `algorithm_config(settings)` and `register()`.
"""
