"""SMARTS as an RLlib multi-agent environment: the env, its reward and driving metrics (the observation
encoder is the agent's: smarts_rl/agents/observation.py)."""

from smarts_rl.env.smarts_env import SmartsEnv, agent_ids, env_config

__all__ = ["SmartsEnv", "agent_ids", "env_config"]
