"""Bad input to `evaluate` and `export`: one clear line on stderr, exit code 2, nothing written."""

import shutil

import pytest
# pybullet prints its build time from C when first imported, past SMARTS's muting of it when
# pytest captures file descriptors: import it now, not inside a test whose stderr is checked.
import smarts.core.utils.pybullet  # noqa: F401

from smarts_rl import evaluate, export
from smarts_rl.command_line import key_types
from tests.browser import free_port


def one_error_line(capfd, program: str) -> str:
    captured = capfd.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"{program}: error: "), captured.err
    return lines[0]


@pytest.fixture
def run_without_checkpoints(laner_run, tmp_path):
    """A run directory whose training saved no checkpoint: its config only."""
    run = tmp_path / "no_checkpoints"
    shutil.copytree(laner_run / ".hydra", run / ".hydra")
    (run / "tune").mkdir()
    return run


def test_evaluate_a_run_without_checkpoints(run_without_checkpoints, capfd):
    assert evaluate.main([f"run={run_without_checkpoints}"]) == 2
    assert "has no checkpoint" in one_error_line(capfd, "evaluate")
    assert not (run_without_checkpoints / "eval").exists()


def test_export_a_run_without_checkpoints(run_without_checkpoints, tmp_path, capfd):
    assert export.main([f"run={run_without_checkpoints}", f"out={tmp_path / 'agent'}"]) == 2
    assert "has no checkpoint" in one_error_line(capfd, "export")
    assert not (tmp_path / "agent").exists()


def test_a_checkpoint_of_another_agent_interface(laner_run, continuous_run, capfd):
    [checkpoint] = (continuous_run / "tune").glob("*/checkpoint_*")
    assert evaluate.main([f"run={laner_run}", f"checkpoint={checkpoint}"]) == 2
    line = one_error_line(capfd, "evaluate")
    assert "agent=laner acts in Discrete(4)" in line and "another agent interface" in line


def test_more_agents_than_per_agent_policies(continuous_run, capfd):
    """The per-agent run has a policy for agent_0 only: a second agent has nothing to drive it."""
    assert evaluate.main([f"run={continuous_run}", "scenario=merge", "agents.count=2"]) == 2
    assert "no policy agent_1" in one_error_line(capfd, "evaluate")


@pytest.mark.parametrize(
    "args,message",
    [
        (["episodes=2"], "run=<run directory> is required"),
        (["run=/no/such/run"], "no such directory"),
        (["run={tmp}"], "not a run directory of train.py"),
        (["run={run}", "episode=3"], "unknown argument 'episode'"),
        (["run={run}", "agents.cont=2"], "unknown argument 'agents.cont'"),
        (["run={run}", "episodes=many"], "episodes: Value 'many' of type 'str' could not be converted to Integer"),
        (["run={run}", "agents.count=two"], "agents.count: Value 'two' of type 'str' could not be converted to Integer"),
        (["run={run}", "gif=maybe"], "gif: Value 'maybe' is not a valid bool"),
        (["run={run}", "scenario.set=merge"], "scenario.set=merge: expected a list"),
        (["run={run}", "scenario=merge", "scenario.name=other"], "give one of scenario=<name>"),
        (["-m", "run={run},/no/such/run"], "no such directory"),  # every job checked before the first starts
        (["run={run}", "scenario=nowhere"], "no built-in scenario 'nowhere'"),
        (["run={run}", "scenario.path={tmp}"], "not a scenario folder"),
        (["run={run}", "scenario.set=[merge,nowhere]"], "no built-in scenario 'nowhere' (built-ins: intersection, loop, merge, overtake)"),
        (["run={run}", "scenario.set=[merge,{tmp}]"], "neither a scenario folder nor a folder of scenario folders"),
        (["run={run}", "scenario.set=[]"], "the set is empty"),
        (["run={run}", "scenario.set=[merge,merge]"], "is in the set twice"),
        (["run={run}", "scenario=loop", "scenario.set=[merge]"], "give one of scenario=<name>, scenario.path=<dir> or scenario.set"),
        (["run={run}", "checkpoint=/no/such/checkpoint"], "no such directory"),
        (["run={run}", "envision=true", "envision_endpoint=ws://127.0.0.1:{port}"], "no Envision server answers"),
        (["run={run}", "sample_only=steering"], "sample_only needs sample_actions=true"),
        (["run={run}", "sample_actions=true", "sample_only=steering"], "applies to actions of named components"),
        (["run={continuous}", "sample_actions=true", "sample_only=steering,wipers"], "unknown action component(s) ['wipers']"),
    ],
)
def test_evaluate_refuses_bad_arguments(args, message, laner_run, continuous_run, tmp_path, capfd):
    args = [a.format(run=laner_run, continuous=continuous_run, tmp=tmp_path, port=free_port()) for a in args]
    assert evaluate.main(args) == 2
    assert message in one_error_line(capfd, "evaluate")


@pytest.mark.parametrize(
    "args,message",
    [
        (["run={run}", "out={tmp}/agent", "checkpont=latest"], "unknown argument 'checkpont' (expected one of: run, out, checkpoint)"),
        (["run={run}"], "out=<dir> is required"),
        (["-m", "run={run}", "out={tmp}/agent", "checkpoint=best,latest"], "every job of a multirun needs its own out"),
    ],
)
def test_export_refuses_bad_arguments(args, message, laner_run, tmp_path, capfd):
    args = [a.format(run=laner_run, tmp=tmp_path) for a in args]
    assert export.main(args) == 2
    assert message in one_error_line(capfd, "export")
    assert not (tmp_path / "agent").exists()


@pytest.mark.parametrize("program", [evaluate, export])
def test_help_lists_every_key(program, capfd):
    assert program.main(["--help"]) == 0
    out = capfd.readouterr().out
    keys = [k for k in key_types(program.Options) if k != "scenario.name"]  # named by scenario=<name>
    assert all(f"{key}=" in out for key in keys), [key for key in keys if f"{key}=" not in out]
    assert "-m" in out


def test_export_refuses_a_folder_that_is_not_empty_or_not_a_package_name(laner_run, tmp_path, capfd):
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "mine.txt").write_text("keep me")
    assert export.main([f"run={laner_run}", f"out={tmp_path / 'taken'}"]) == 2
    assert "not empty" in one_error_line(capfd, "export")
    for name in ("my-agent", "torch"):  # not an identifier; another module's name
        assert export.main([f"run={laner_run}", f"out={tmp_path / name}"]) == 2
        assert "must be a Python identifier that names no other module" in one_error_line(capfd, "export")
