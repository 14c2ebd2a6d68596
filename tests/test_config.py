"""Config composition, schemas and the command line's answers to bad input (no Ray, no SMARTS run)."""

import itertools
import subprocess
import sys
from pathlib import Path

import pytest

from smarts_rl.agents import AgentSettings
from smarts_rl.algorithms import pg
from smarts_rl.config import compose_config, experiment_presets, group_options, settings
from smarts_rl.schedulers import pbt

REPO = Path(__file__).resolve().parent.parent


def test_defaults_are_pg_none_loop_laner():
    cfg = settings(compose_config())
    assert (cfg.algo.name, cfg.scheduler.name, cfg.scenario.name, cfg.agent.name) == ("pg", "none", "loop", "laner")
    assert isinstance(cfg.algo, pg.Settings) and isinstance(cfg.agent, AgentSettings)
    assert cfg.resume is None and cfg.ray.address is None


@pytest.mark.parametrize(
    "algo,scheduler,scenario,agent",
    list(itertools.product(*group_options().values())),
)
def test_every_combination_of_group_options_composes_and_validates(algo, scheduler, scenario, agent):
    cfg = settings(compose_config([f"algo={algo}", f"scheduler={scheduler}", f"scenario={scenario}", f"agent={agent}"]))
    assert (cfg.algo.name, cfg.scheduler.name, cfg.scenario.name, cfg.agent.name) == (algo, scheduler, scenario, agent)


# Presets are named <scenario>_<algo>, but for these.
PRESET_SCENARIO_AND_ALGO = {"quickstart": ("overtake", "pg")}


@pytest.mark.parametrize("preset", experiment_presets())
@pytest.mark.parametrize("agent", group_options()["agent"])
def test_every_experiment_preset_composes_with_every_agent(preset, agent):
    cfg = settings(compose_config([f"+experiment={preset}", f"agent={agent}"]))
    scenario, algo = PRESET_SCENARIO_AND_ALGO.get(preset) or preset.rsplit("_", 1)
    assert (cfg.scenario.name, cfg.algo.name, cfg.agent.name) == (scenario, algo, agent)
    assert cfg.stop.training_iteration is None and cfg.stop.timesteps_total > 0


def test_overrides_reach_the_typed_settings():
    cfg = settings(compose_config(["algo.lr=0.0123", "agents.count=2", "scheduler=pbt", "scheduler.population_size=3"]))
    assert cfg.algo.lr == pytest.approx(0.0123)
    assert cfg.agents.count == 2
    assert isinstance(cfg.scheduler, pbt.Settings) and cfg.scheduler.population_size == 3


def test_settings_work_on_a_config_loaded_back_from_yaml(tmp_path):
    from omegaconf import OmegaConf

    OmegaConf.save(compose_config(["scheduler=pbt", "algo=ppo"]), tmp_path / "config.yaml")
    cfg = settings(OmegaConf.load(tmp_path / "config.yaml"))
    assert isinstance(cfg.scheduler, pbt.Settings) and cfg.algo.name == "ppo"


@pytest.mark.parametrize(
    "overrides,message",
    [
        (["agents.count=0"], "agents.count must be >= 1"),
        (["agents.policy=each"], "agents.policy must be"),
        (["stop.training_iteration=-3"], "stop.training_iteration must be > 0"),
        (["checkpoint.frequency=0"], "checkpoint.frequency must be >= 1"),
        (["env_runners.num_envs_per_env_runner=0"], "env_runners.num_envs_per_env_runner must be >= 1"),
        (["fault_tolerance.max_num_env_runner_restarts=-1"], "fault_tolerance.max_num_env_runner_restarts must be >= 0"),
        (["fault_tolerance.max_trial_failures=-1"], "fault_tolerance.max_trial_failures must be >= 0"),
        (["fault_tolerance.delay_between_env_runner_restarts_s=-1"],
         "fault_tolerance.delay_between_env_runner_restarts_s must be >= 0"),
        (["agent.max_episode_steps=0"], "agent.max_episode_steps must be >= 1"),
        (["scheduler=pbt", "scheduler.quantile_fraction=0.9"], "scheduler.quantile_fraction must be in"),
        (["scheduler=grid", "scheduler.grid.lr=[]"], "scheduler.grid.lr must be a non-empty list"),
        (["env_runners.num_cpus_per_env_runner=0"], "env_runners.num_cpus_per_env_runner must be > 0 or null"),
        (["ray.address=10.0.0.1:6379", "ray.dashboard=true"], "ray.dashboard applies to a local Ray"),
    ],
)
def test_invalid_values_fail_naming_the_key(overrides, message):
    with pytest.raises(ValueError, match=message):
        settings(compose_config(overrides))


def train_cli(*args, cwd):
    return subprocess.run(
        [sys.executable, str(REPO / "train.py"), *args], cwd=cwd, capture_output=True, text=True, timeout=120
    )


def test_help_lists_groups_and_their_options(tmp_path):
    result = train_cli("--help", cwd=tmp_path)
    assert result.returncode == 0
    assert "algo: pg, ppo" in result.stdout
    assert "scheduler: grid, none, pbt" in result.stdout
    assert "scenario: intersection, loop, merge, mixed, overtake" in result.stdout
    assert "agent: continuous, laner" in result.stdout
    assert "+experiment (tuned presets, optional): intersection_pg, loop_merge_pg, loop_pg, merge_pg, quickstart" in result.stdout
    assert "schema" not in result.stdout


BAD_INPUT = {
    "unknown_algo": (["algo=nope"], "available options in 'algo': pg, ppo"),
    "typo": (["algo.lrr=0.1"], "unknown key 'algo.lrr'"),
    "negative_lr": (["algo.lr=-1"], "algo.lr must be > 0"),
    "lr_not_a_number": (["algo.lr=abc"], "algo.lr must be > 0"),
    "unknown_agent": (["agent=nope"], "available options in 'agent': continuous, laner"),
    "unknown_scenario": (["scenario=nope"], "available options in 'scenario'"),
    "wrong_type": (["seed=abc"], "seed"),
    "missing_scenario_path": (["scenario.path=/no/such/scenario"], "/no/such/scenario"),
    "scenario_path_not_a_scenario": (["scenario.path=."], "not a scenario folder"),
    "missing_run_dir": (["resume=/no/such/run"], "resume=/no/such/run: no such directory (/no/such/run)"),
    "run_dir_not_a_run": (["resume=."], "is not a run directory of train.py"),
    "resume_a_kept_run": ([f"resume={REPO}/bench/results/runs/loop_continuous_pg/seed_0"],
                          "keeps its checkpoints but not Tune's experiment state"),
    "unwritable_output": (["hydra.run.dir=/etc/hostname/run"], "cannot write the output directory"),
    "bad_value_in_a_sweep": (["-m", "algo.lr=1e-3,-1"], "algo.lr must be > 0"),
    # Hydra's own sweep syntax: its basic sweeper lists the jobs, every one checked before the first.
    "bad_job_in_a_glob_sweep": (["-m", "agent=glob(*)", "agent.max_episode_steps=0"], "agent.max_episode_steps must be >= 1"),
    "glob_of_no_option": (["-m", "scenario=glob(nope*)"], "makes no job (a glob() that matches no option?)"),
    "bad_job_in_a_range_sweep": (["-m", "seed=range(0,2)", "algo.lr=-1"], "algo.lr must be > 0"),
    "interval_without_a_sweeper_plugin": (["-m", "algo.lr=interval(1e-4,1e-3)"],
                                          "Hydra's basic sweeper runs choice (a,b), range() and glob() sweeps"),
    # An option's implementation (`_target_`).
    "target_not_importable": (["algo._target_=no_such_package.Settings"],
                              "algo=pg: cannot import its _target_ no_such_package.Settings"),
    "target_not_an_algorithm": (["scheduler._target_=smarts_rl.algorithms.pg.Settings"],
                                "is not a dataclass subclassing smarts_rl.schedulers.contract.Scheduler"),
    "unknown_action_adapter": (["agent.name=no_such_adapter"], "no action adapter module smarts_rl.agents.no_such_adapter"),
    "runners_do_not_fit": (
        ["ray.num_cpus=2", "env_runners.num_env_runners=2", "env_runners.num_cpus_per_env_runner=1"],
        "1 trial(s) x (1 + 2 env runners) x 1 CPU = 3 CPUs do not fit in Ray's 2 CPUs (ray.num_cpus)",
    ),
    "population_does_not_fit": (
        ["scheduler=pbt", "ray.num_cpus=2", "env_runners.num_env_runners=1", "env_runners.num_cpus_per_env_runner=0.5"],
        "4 trial(s) x (1 + 1 env runners) x 0.5 CPU = 4 CPUs do not fit",
    ),
    # What this machine cannot run (smarts_rl/run/machine_fit.py), whatever machine the suite runs on.
    "cpu_share_below_the_floor": (["ray.num_cpus=2", "env_runners.num_env_runners=64"],
                                  "65 processes (trials and env runners) would share 2 CPUs, 0.031 CPU each"),
    "population_below_the_floor": (["scheduler=pbt", "scheduler.population_size=8", "ray.num_cpus=2"],
                                   "env_runners.num_env_runners=2 with 8 trials at once: 24 processes"),
    "memory_beyond_the_machine": (["ray.num_cpus=100000", "env_runners.num_env_runners=20000"],
                                  "the run needs about 11001.2 GB of memory at its start, this machine has"),
    "mutating_a_non_field": (["scheduler=pbt", "+scheduler.hyperparam_mutations.lrr=[1]"], "hyperparam_mutations.lrr is not a field"),
    "grid_over_a_non_field": (["scheduler=grid", "+scheduler.grid.lrr=[1]"], "scheduler.grid.lrr is not a field"),
    # Sets of scenarios (smarts_rl/scenarios/sets.py).
    "set_unknown_name": (["scenario.set=[loop,roundabout]"],
                         "no built-in scenario 'roundabout' (built-ins: intersection, loop, merge, overtake)"),
    "set_folder_of_no_scenarios": ([f"scenario.set=[loop,{REPO}/conf]"],
                                   f"{REPO}/conf: neither a scenario folder nor a folder of scenario folders"),
    "set_missing_folder": (["scenario.set=[loop,./no/such/folder]"], "/no/such/folder: no such folder"),
    "set_file": ([f"scenario.set=[loop,{REPO}/train.py]"], f"{REPO}/train.py: not a folder"),
    "set_empty": (["scenario.set=[]"], "the set is empty"),
    "set_twice": (["scenario.set=[loop,merge,loop]"], f"{REPO}/scenarios/loop is in the set twice (loop and loop)"),
    "set_twice_through_a_folder": ([f"scenario.set=[merge,{REPO}/scenarios]"],
                                   f"{REPO}/scenarios/merge is in the set twice (merge and {REPO}/scenarios)"),
    "set_and_path": (["scenario.set=[loop]", f"scenario.path={REPO}/scenarios/merge"], "scenario.set or scenario.path, not both"),
    "set_sampling": (["scenario=mixed", "scenario.sampling=random"], "scenario.sampling='random': must be one of cycle, uniform"),
    "weights_wrong_length": (["scenario=mixed", "scenario.weights=[1,2]"],
                             "scenario.weights has 2 weight(s) for 3 scenario(s) (loop, merge, intersection)"),
    "weights_negative": (["scenario=mixed", "scenario.weights=[1,-1,1]"], "a weight cannot be negative"),
    "weights_all_zero": (["scenario=mixed", "scenario.weights=[0,0,0]"], "at least one weight must be > 0"),
    "weights_without_a_set": (["scenario.weights=[1]"], "scenario.weights applies to a scenario.set"),
}


@pytest.mark.parametrize("name", sorted(BAD_INPUT))
def test_bad_input_is_one_line_exit_2_and_leaves_nothing_behind(name, tmp_path, monkeypatch, capsys):
    from smarts_rl.cli import main

    args, message = BAD_INPUT[name]
    monkeypatch.chdir(tmp_path)
    assert main(list(args)) == 2
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1, captured.err
    assert lines[0].startswith("train.py: error: ") and message in lines[0]
    assert "Traceback" not in captured.err + captured.out
    assert list(tmp_path.iterdir()) == []  # no outputs/ or multirun/ directory


@pytest.mark.parametrize("name", ["unknown_algo", "typo", "missing_run_dir", "set_unknown_name"])
def test_bad_input_from_the_shell_fails_within_seconds_without_traceback(name, tmp_path):
    import time

    args, message = BAD_INPUT[name]
    start = time.monotonic()
    result = train_cli(*args, cwd=tmp_path)
    assert time.monotonic() - start < 60
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [f"train.py: error: {result.stderr.split('error: ', 1)[1].strip()}"]
    assert message in result.stderr and "Traceback" not in result.stderr + result.stdout
    assert list(tmp_path.iterdir()) == []


def test_resume_refuses_other_overrides(tmp_path):
    from smarts_rl.errors import UsageError
    from smarts_rl.run.resume import check_resume_overrides

    assert check_resume_overrides(["resume=x", "stop.training_iteration=9"]) == ["stop.training_iteration=9"]
    sampling = ["env_runners.num_env_runners=1", "ray.num_cpus=1", "fault_tolerance.max_trial_failures=0",
                "checkpoint.num_to_keep=1"]
    assert check_resume_overrides(["resume=x", *sampling, "hydra.run.dir=y"]) == sampling
    for other in ("algo.lr=0.1", "checkpoint.frequency=2", "seed=1", "env_runners=x", "init_checkpoint=latest"):
        with pytest.raises(UsageError, match=r"only stop\.\*, env_runners\.\*, ray\.\*, fault_tolerance\.\* and "
                                             r"checkpoint\.num_to_keep may change when resuming.*not what its trials "
                                             rf"learn.*refused: {other}"):
            check_resume_overrides(["resume=x", other])
