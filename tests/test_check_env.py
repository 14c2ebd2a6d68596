"""`python -m smarts_rl.check_env` on real SMARTS: its JSON line and its answers to bad input."""

import json
import subprocess
import sys

import pytest


def check_env(*args, cwd):
    return subprocess.run(
        [sys.executable, "-m", "smarts_rl.check_env", *args], cwd=cwd, capture_output=True, text=True, timeout=600
    )


def test_prints_throughput_json_last(tmp_path):
    result = check_env("scenario=merge", "agent=continuous", "agents.count=2", "steps=30", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["scenario"] == "merge" and report["agents"] == 2 and report["steps"] == 30
    assert report["episodes"] >= 1 and report["obs_dim"] == 46
    assert report["action_space"].startswith("Box(")
    assert report["env_steps_per_s"] > 0 and report["raw_steps_per_s"] > 0
    assert report["wrapper_overhead"] == pytest.approx(
        1 - report["env_steps_per_s"] / report["raw_steps_per_s"], abs=1e-3
    )


@pytest.mark.parametrize(
    "args,message",
    [
        (["scenario.path=/no/such/scenario"], "/no/such/scenario"),
        (["agent=nope"], "available options in 'agent'"),
        (["steps=0"], "steps must be a positive integer, got 0"),
        (["steps=many"], "steps: Value 'many' of type 'str' could not be converted to Integer"),
    ],
)
def test_failures_are_one_line_and_nonzero(args, message, tmp_path):
    result = check_env(*args, cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [result.stderr.strip()]
    assert message in result.stderr and "Traceback" not in result.stderr


def test_a_users_smarts_scenario_folder_works_via_scenario_path(user_scenario, tmp_path, monkeypatch):
    """Through the Python function, which returns the JSON line's figures."""
    import smarts_rl

    monkeypatch.chdir(tmp_path)
    report = smarts_rl.check_env(overrides=[f"scenario.path={user_scenario}"], steps=20)
    assert report["scenario"] == str(user_scenario) and report["steps"] == 20
    assert report["env_steps_per_s"] > 0 and report["raw_steps_per_s"] > 0
