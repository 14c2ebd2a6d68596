"""Running training: settings → RLlib config → Ray and Tune (fresh, resumed or warm-started) → summary."""
