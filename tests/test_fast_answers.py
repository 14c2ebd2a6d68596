"""`--help`, `--cfg job` and bad input answer at once: Ray, torch and SMARTS (seconds to import)
load only when training or an evaluation really starts. Checked by what a fresh interpreter has
imported, not by a clock (the machine may be loaded)."""

import json
import subprocess
import sys
from pathlib import Path

from omegaconf import OmegaConf

from smarts_rl.config import compose_config
from tests.test_config import BAD_INPUT

REPO = Path(__file__).resolve().parent.parent
HEAVY = ("ray", "torch", "smarts", "gymnasium")


def imported_heavy(stderr: str) -> set[str]:
    """The heavy top-level packages in `python -X importtime` output."""
    names = {line.split("|")[-1].strip() for line in stderr.splitlines() if line.startswith("import time:")}
    return {name for name in names if name in HEAVY}


def run_with_importtime(*args, cwd):
    return subprocess.run([sys.executable, "-X", "importtime", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=300)


def test_train_help_and_cfg_job_import_no_ray_torch_or_smarts(tmp_path):
    for args in (["--help"], ["algo=ppo", "scheduler=pbt", "--help"], ["--cfg", "job"]):
        result = run_with_importtime(str(REPO / "train.py"), *args, cwd=tmp_path)
        assert result.returncode == 0, result.stderr[-2000:]
        assert "algo" in result.stdout
        assert imported_heavy(result.stderr) == set(), args
    assert list(tmp_path.iterdir()) == []


def test_importtime_output_shows_a_heavy_import():
    # What the tests here rely on: `-X importtime` names every package a module pulls in.
    result = run_with_importtime("-c", "import smarts_rl.run.console", cwd=REPO)
    assert result.returncode == 0, result.stderr[-2000:]
    assert {"ray", "smarts"} <= imported_heavy(result.stderr)


# Asking SMARTS whether a folder without scenario.py holds a map it can load imports its map
# finder (a few modules and numpy, a few tenths of a second): not its simulator. So does expanding
# a folder of scenario folders (is the folder itself one?).
SMARTS_MAP_LOOKUP = {"scenario_path_not_a_scenario", "set_folder_of_no_scenarios", "set_twice_through_a_folder"}


def imported_in_one_interpreter(cases: list[list[str]], heavy: tuple, cwd: Path) -> tuple[list[int], list[str]]:
    """Exit codes of `cli.main` for each case, run one after the other, and the `heavy` modules then imported."""
    code = (
        "import json, sys\n"
        "from smarts_rl.cli import main\n"
        "codes = [main(list(args)) for args in json.loads(sys.argv[1])]\n"
        "heavy = sorted(name for name in sys.modules if name.split('.')[0] in json.loads(sys.argv[2])\n"
        "               or name in json.loads(sys.argv[2]))\n"
        "print(json.dumps({'codes': codes, 'heavy': heavy}))\n"
    )
    result = subprocess.run([sys.executable, "-c", code, json.dumps(cases), json.dumps(heavy)], cwd=cwd,
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    answer = json.loads(result.stdout.strip().splitlines()[-1])
    return answer["codes"], answer["heavy"]


def test_every_bad_input_is_answered_without_importing_ray_torch_or_smarts(tmp_path):
    # Every case of test_config's BAD_INPUT (each is checked for its message there).
    cases = [args for name, (args, _) in sorted(BAD_INPUT.items()) if name not in SMARTS_MAP_LOOKUP]
    cases.append(["init_from=/no/such/run"])  # checked last, after the rest of the config
    assert imported_in_one_interpreter(cases, HEAVY, tmp_path) == ([2] * len(cases), [])
    cases = [BAD_INPUT[name][0] for name in sorted(SMARTS_MAP_LOOKUP)]
    simulator = ("ray", "torch", "gymnasium", "smarts.core.smarts", "smarts.env")
    assert imported_in_one_interpreter(cases, simulator, tmp_path) == ([2] * len(cases), [])


def run_without_checkpoints(tmp_path: Path) -> Path:
    """A run directory with a config and no checkpoint: found out before a policy is loaded."""
    run = tmp_path / "run"
    (run / "tune").mkdir(parents=True)
    (run / ".hydra").mkdir()
    OmegaConf.save(compose_config(), run / ".hydra" / "config.yaml")
    return run


def test_evaluate_help_and_bad_input_import_no_ray_torch_or_smarts(tmp_path):
    run = run_without_checkpoints(tmp_path)
    for args, code in (
        (["--help"], 0),
        (["run=/no/such/run"], 2),
        (["runn=x"], 2),
        ([f"run={run}", "episodes=0"], 2),
        ([f"run={run}", "episodes=many"], 2),
        ([f"run={run}", "scenario=nope"], 2),
        ([f"run={run}"], 2),  # no checkpoint
        (["-m", f"run={run},/no/such/run", "episodes=1,2"], 2),
    ):
        result = run_with_importtime("-m", "smarts_rl.evaluate", *args, cwd=tmp_path)
        assert result.returncode == code, (args, result.stderr[-2000:])
        assert imported_heavy(result.stderr) == set(), args
    assert not (run / "eval").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]  # nothing of Hydra's


def test_export_help_and_bad_input_import_no_ray_torch_or_smarts(tmp_path):
    run = run_without_checkpoints(tmp_path)
    for args, code in (
        (["--help"], 0),
        ([f"run={run}"], 2),  # no out
        ([f"run={run}", "out=agent", "outt=x"], 2),
        ([f"run={run}", "out=agent"], 2),  # no checkpoint
        (["-m", f"run={run}", "out=agent", "checkpoint=best,latest"], 2),  # both jobs write to agent/
    ):
        result = run_with_importtime("-m", "smarts_rl.export", *args, cwd=tmp_path)
        assert result.returncode == code, (args, result.stderr[-2000:])
        assert imported_heavy(result.stderr) == set(), args
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]


def test_the_other_commands_help_and_bad_input_import_no_ray_torch_or_smarts(tmp_path):
    for module, args, code in (
        ("report", ["--help"], 0),
        ("report", ["nowhere"], 2),
        ("report", [str(tmp_path), "episodes=3"], 2),
        ("check_env", ["--help"], 0),
        ("check_env", ["steps=0"], 2),
        ("check_env", ["agent=nope"], 2),
        ("envision_server", ["--help"], 0),
        ("envision_server", ["--port", "http"], 2),
        ("envision_replay", ["--help"], 0),
        ("envision_replay", ["none.jsonl"], 2),
    ):
        result = run_with_importtime("-m", f"smarts_rl.{module}", *args, cwd=tmp_path)
        assert result.returncode == code, (module, args, result.stderr[-2000:])
        assert imported_heavy(result.stderr) == set(), (module, args)
    assert list(tmp_path.iterdir()) == []
