"""A Hydra sweeper plugin that draws its jobs as it goes, as Optuna's or Nevergrad's do: each
`interval(a,b)` override is drawn uniformly for every job, one job at a time, and the job's
return value is read as the number to maximise (`float(...)`). Written as a user's plugin would be
(a module of the `hydra_plugins` namespace package, on PYTHONPATH); tests/test_extending.py sweeps with it."""

import json
import random
from pathlib import Path

from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.plugins import Plugins
from hydra.plugins.sweeper import Sweeper


class RandomDrawsSweeper(Sweeper):
    def __init__(self, draws: int, seed: int = 0):
        self.draws, self.seed = draws, seed

    def setup(self, *, hydra_context, task_function, config):
        self.hydra_context, self.config = hydra_context, config
        self.launcher = Plugins.instance().instantiate_launcher(
            hydra_context=hydra_context, task_function=task_function, config=config)

    def sweep(self, arguments):
        parsed = OverridesParser.create(config_loader=self.hydra_context.config_loader).parse_overrides(arguments)
        rng, drawn = random.Random(self.seed), []
        for num in range(self.draws):
            job = []
            for override in parsed:
                key = override.get_key_element()
                if override.is_interval_sweep():
                    interval = override.value()
                    job.append(f"{key}={rng.uniform(interval.start, interval.end)}")
                else:
                    job.append(f"{key}={override.get_value_element_as_str()}")
            [result] = self.launcher.launch([job], initial_job_idx=num)
            drawn.append({"overrides": job, "objective": float(result.return_value)})
        sweep_dir = Path(self.config.hydra.sweep.dir)
        sweep_dir.mkdir(parents=True, exist_ok=True)
        (sweep_dir / "draws.json").write_text(json.dumps(drawn))
        return drawn
