"""The estimate behind refusing what this machine cannot run (smarts_rl/run/machine_fit.py); the
refusals themselves are in tests/test_config.py's bad input."""

import pytest

from smarts_rl.config import compose_config, settings
from smarts_rl.errors import UsageError
from smarts_rl.run import machine_fit


def test_memory_grows_with_runners_simulations_and_trials():
    one = machine_fit.memory_needed_gb(runners=2, envs_per_runner=1, trials=1)
    assert machine_fit.memory_needed_gb(3, 1, 1) - one == pytest.approx(
        machine_fit.ENV_RUNNER_GB + machine_fit.FIRST_SIMULATION_GB + machine_fit.SIMULATION_GB)
    assert machine_fit.memory_needed_gb(2, 2, 1) - one == pytest.approx(2 * machine_fit.SIMULATION_GB)
    assert machine_fit.memory_needed_gb(2, 1, 4) - machine_fit.DRIVER_AND_RAY_GB == pytest.approx(
        4 * (one - machine_fit.DRIVER_AND_RAY_GB))
    # No env runner: the trial's own process simulates.
    assert machine_fit.memory_needed_gb(0, 1, 1) == pytest.approx(
        machine_fit.DRIVER_AND_RAY_GB + machine_fit.TRIAL_GB + machine_fit.FIRST_SIMULATION_GB + machine_fit.SIMULATION_GB)


@pytest.mark.parametrize("overrides, cpus, memory_gb, refused", [
    ([], 2, 24, None),  # the defaults on a 2-core machine
    (["scheduler=pbt"], 2, 24, None),  # 4 trials x 3 processes: 1/6 CPU each, deliberate and allowed
    (["env_runners.num_env_runners=14"], 16, 64, None),
    (["env_runners.num_env_runners=64"], 2, 24, "0.031 CPU each"),
    (["env_runners.num_env_runners=64"], 64, 24, "needs about 36.4 GB of memory"),
    (["env_runners.num_env_runners=2"], 2, 2, "needs about 2.3 GB of memory at its start, this machine has 2.0 GB"),
])
def test_refused_only_below_the_cpu_floor_or_beyond_the_memory(overrides, cpus, memory_gb, refused):
    cfg = settings(compose_config(overrides))
    if refused is None:
        machine_fit.check_machine_fits(cfg, cpus, memory_gb)
        return
    with pytest.raises(UsageError, match=refused.replace(".", r"\.")):
        machine_fit.check_machine_fits(cfg, cpus, memory_gb)


def test_machine_memory_is_this_machines():
    with open("/proc/meminfo") as f:
        total_kb = int(next(line for line in f if line.startswith("MemTotal:")).split()[1])
    assert machine_fit.machine_memory_gb() == pytest.approx(total_kb / 2**20, rel=0.01)
