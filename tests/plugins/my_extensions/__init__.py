"""A user's own options for smarts-rl, outside its package (docs/extending.md)."""
