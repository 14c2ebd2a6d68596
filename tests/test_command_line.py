"""The command line of `python -m smarts_rl.<command>` (smarts_rl/command_line.py), read into each
command's options without running it, and the Python functions behind it: `smarts_rl.evaluate`, ...
(their results on real runs: test_evaluate, test_export, test_report, test_check_env)."""

import inspect
import json
import subprocess
import sys
from pathlib import Path

import pytest

import smarts_rl
from smarts_rl import check_env, command_line, envision_replay, envision_server, evaluate, export, report
from smarts_rl.command_line import key_defaults, key_docs, key_types
from smarts_rl.errors import UsageError

COMMANDS = [evaluate, export, report, check_env, envision_server, envision_replay]


def read(module, *argv: str) -> list[tuple[str, object]]:
    return command_line.jobs(module.COMMAND, command_line.read_arguments(module.COMMAND, list(argv)))


def options(module, *argv: str):
    [(_, job)] = read(module, *argv)
    return job


@pytest.mark.parametrize("module", COMMANDS, ids=lambda m: m.PROGRAM)
def test_help_lists_every_key_with_its_default_and_docstring(module, capsys):
    assert module.main(["--help"]) == 0
    out = capsys.readouterr().out
    docs, defaults = key_docs(module.Options), key_defaults(module.Options)
    for key in key_types(module.Options):
        [line] = [line for line in out.splitlines() if line.startswith(f"  {key}=")]
        assert docs[key].split()[0] in line, key  # every key has a docstring, shown beside it
        if defaults[key] not in (None, "", []):
            assert f"[{command_line.format_value(defaults[key])}]" in line, key


def test_a_single_runs_strings_are_taken_as_written_and_its_lists_read_as_yaml():
    job = options(evaluate, "run=~/runs/a,b", "sample_only=throttle,steering", "scenario.set=[merge,~/mine]",
                  "episodes=3", "seed=null", "gif=false", "agents.count=2")
    assert (job.run, job.sample_only, job.scenario.set) == ("~/runs/a,b", "throttle,steering", ["merge", "~/mine"])
    assert (job.episodes, job.seed, job.gif, job.agents.count) == (3, None, False, 2)
    assert options(evaluate, "run=r", "scenario=merge").scenario.name == "merge"


def test_a_multirun_is_every_combination_in_hydras_grammar_in_the_basic_sweepers_order():
    jobs = read(evaluate, "-m", "run=a,'b,c'", "checkpoint=best,latest", "episodes=range(1,3)")
    assert [(job.run, job.checkpoint, job.episodes) for _, job in jobs] == [
        ("a", "best", 1), ("a", "best", 2), ("a", "latest", 1), ("a", "latest", 2),
        ("b,c", "best", 1), ("b,c", "best", 2), ("b,c", "latest", 1), ("b,c", "latest", 2)]
    assert jobs[0][0] == "run=a checkpoint=best episodes=1"
    jobs = read(export, "-m", "run=r", "checkpoint=best,latest", "out=exported/agent_${checkpoint}")
    assert [job.out for _, job in jobs] == ["exported/agent_best", "exported/agent_latest"]


def test_bare_arguments_flags_and_the_rest_go_where_each_command_says():
    assert options(report, "a", "runs=[b]", "c", "out=o") == report.Options(runs=["b", "a", "c"], out="o")
    assert options(envision_server, "--port", "8082", "--max-capacity-mb=5", "host=0.0.0.0") == \
        envision_server.Options(host="0.0.0.0", port=8082, max_capacity_mb=5.0)
    assert options(envision_replay, "r.jsonl", "--endpoint", "ws://h:1") == envision_replay.Options("r.jsonl", "ws://h:1")
    assert options(check_env, "scenario=merge", "steps=3", "+experiment=x", "~algo.lr", "agents.count=2") == \
        check_env.Options(steps=3, overrides=["scenario=merge", "+experiment=x", "~algo.lr", "agents.count=2"])


@pytest.mark.parametrize("module,argv,message", [
    (evaluate, ["run=r", "episode=3"], "unknown argument 'episode' (expected one of: run, checkpoint, episodes,"),
    (evaluate, ["run=r", "--episodes", "3"], "unknown option '--episodes'"),
    (evaluate, ["run=r", "episodes=1,2"], "episodes=1,2 gives several values: add -m"),
    (evaluate, ["-m", "run=r", "episodes=interval(1,2)"], "only a list of values (a,b) or range() sweeps here"),
    (evaluate, ["run=r", "seed=1.5"], "seed: Value '1.5' of type 'float' could not be converted to Integer"),
    (export, ["r"], "arguments take the form key=value; got 'r'"),
    (report, ["a", "out=o", "episodes=3"], "unknown argument 'episodes' (expected one of: runs, out)"),
    (envision_server, ["--port"], "--port needs a value"),
    (envision_server, ["port=http"], "port: Value 'http' of type 'str' could not be converted to Integer"),
    (envision_replay, ["a.jsonl", "b.jsonl"], "one replay please"),
])
def test_mistakes_are_one_line_naming_the_key(module, argv, message):
    with pytest.raises(UsageError) as error:
        read(module, *argv)
    assert message in str(error.value) and "\n" not in str(error.value)


def test_the_commands_exit_2_with_one_line_before_anything_runs(tmp_path, capfd):
    assert report.main([str(tmp_path / "nowhere")]) == 2
    assert check_env.main(["steps=0"]) == 2
    assert envision_replay.main([str(tmp_path / "none.jsonl")]) == 2
    assert envision_server.main(["--port", "70000"]) == 2
    assert capfd.readouterr().err.splitlines() == [
        f"report: error: {tmp_path / 'nowhere'}: no such directory ({tmp_path / 'nowhere'})",
        "check_env: error: steps must be a positive integer, got 0",
        f"envision_replay: error: {tmp_path / 'none.jsonl'}: no such replay file",
        "envision_server: error: port must be between 1 and 65535, got 70000",
    ]


def test_each_python_function_is_its_commands_module_and_takes_its_keys(tmp_path):
    for name in smarts_rl.COMMANDS:
        function = getattr(smarts_rl, name)
        assert function is sys.modules[f"smarts_rl.{name}"] and callable(function)
        assert list(inspect.signature(function).parameters) == ["options", "keys"]
    assert command_line.typed_options(evaluate.Options, evaluate.Options(run="r"), {
        "episodes": 2, "agents": {"count": 3}, "scenario": evaluate.ScenarioChoice(path=tmp_path)}) == evaluate.Options(
        run="r", episodes=2, agents=evaluate.AgentsChoice(count=3), scenario=evaluate.ScenarioChoice(path=str(tmp_path)))
    with pytest.raises(UsageError, match="episodes: Value 'many' of type 'str' could not be converted to Integer"):
        smarts_rl.evaluate(run="r", episodes="many")
    with pytest.raises(UsageError, match=r"unknown argument 'agents.cont' \(expected one of"):
        smarts_rl.evaluate(run="r", agents={"cont": 2})
    with pytest.raises(UsageError, match="expected smarts_rl.evaluate.Options, got smarts_rl.export.Options"):
        smarts_rl.evaluate(export.Options())
    with pytest.raises(UsageError, match="run=r: no such directory"):
        smarts_rl.export(run="r", out=tmp_path / "agent")
    with pytest.raises(UsageError, match="give one or more run, sweep or bench directories"):
        smarts_rl.report()


def test_importing_smarts_rl_and_its_functions_loads_no_ray_torch_or_smarts(tmp_path):
    code = ("import json, sys, smarts_rl\n"
            "functions = [getattr(smarts_rl, name) for name in smarts_rl.COMMANDS]\n"
            "print(json.dumps(sorted(n for n in sys.modules if n.split('.')[0] in ('ray', 'torch', 'smarts'))))\n")
    result = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert json.loads(result.stdout) == []


def test_no_command_imports_another_commands_module():
    commands = {m.__name__ for m in COMMANDS} | {"smarts_rl.cli"}
    package = Path(smarts_rl.__file__).parent
    for module in commands:
        source = (package / f"{module.split('.')[-1]}.py").read_text()
        imported = {c for c in commands - {module} if f"from {c} import" in source or f"import {c}" in source
                    or f"from smarts_rl import {c.split('.')[-1]}" in source}
        assert not imported, (module, imported)
