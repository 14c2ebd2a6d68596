"""SMARTS as an RLlib multi-agent environment: observation, reward and the env itself."""

from smarts_rl.env.smarts_env import SmartsEnv, agent_ids, env_config

__all__ = ["SmartsEnv", "agent_ids", "env_config"]
