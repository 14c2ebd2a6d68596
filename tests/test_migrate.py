"""Run directories made before the promised names (smarts_rl/persisted.py) take them once
(smarts_rl/migrate.py): their pickles are rewritten opcode by opcode and load as before."""

import json
import os
import pickle
import subprocess
import sys
from pathlib import Path

import pytest

from smarts_rl import persisted
from smarts_rl.migrate import (
    OLD_MODULES, PERSISTED, PROMISED, embedded_pickles, migrate, migrate_run_of, pickled_globals, rewrite_pickle,
)
from smarts_rl.run_dir.layout import PICKLES_MIGRATED

REPO = Path(__file__).resolve().parent.parent
KEPT_RUNS = REPO / "bench" / "results" / "runs"


def older_name(module: str, qualname: str, flat: bool = True):
    """The inverse of the migration: where a run made before persisted.py named a promised object,
    by the oldest module known (before December 2026 where it had a flat one); with `flat=False`,
    where it lived just before persisted.py (as the kept bench runs were committed)."""
    if module != PERSISTED:
        return None
    head, dot, rest = qualname.partition(".")
    if head in RLLIB_PIPELINES:
        return RLLIB_PIPELINES[head], qualname
    order = (lambda item: item[0][0] not in SHIMS) if flat else (lambda item: item[0][0] in SHIMS)
    [(today, name), *_] = [key for key, promised in sorted(PROMISED.items(), key=order) if promised == head]
    old = [o for o, n in OLD_MODULES.items() if n == today] if flat else []
    return (old[0] if old else today), name + dot + rest


def names_before_persisted(module: str, qualname: str):
    return older_name(module, qualname, flat=False)


# The env runners' connector pipelines were RLlib's own classes before they were timed per call.
RLLIB_PIPELINES = {
    "EnvToModulePipeline": "ray.rllib.connectors.env_to_module.env_to_module_pipeline",
    "ModuleToEnvPipeline": "ray.rllib.connectors.module_to_env.module_to_env_pipeline",
}

# Modules that once held what moved beside them.
SHIMS = ("smarts_rl.algorithms.pg", "smarts_rl.algorithms.ppo", "smarts_rl.schedulers.pbt")


def with_older_names(data: bytes) -> bytes:
    return rewrite_pickle(data, rename=older_name, modules={})


def run_imports(directory: Path) -> dict:
    """(module, qualname) of each of ours that the pickles under `directory` import -> the files."""
    found = {}
    for path in sorted(p for p in Path(directory).rglob("*") if p.is_file()):
        for data in embedded_pickles(path):
            for module, qualname in pickled_globals(data):
                if module.split(".")[0] == "smarts_rl":
                    found.setdefault((module, qualname), set()).add(str(path.relative_to(directory)))
    return found


def not_promised(imports: dict) -> dict:
    """Imports of ours outside persisted.py; but the methods Ray's actor class wraps, which it
    pickles by value into an algorithm checkpoint's own class_and_ctor_args.pkl, naming each method
    where it is implemented (RLlib's Algorithm.from_checkpoint alone reads that file)."""
    return {
        (module, qualname): files for (module, qualname), files in imports.items()
        if module != PERSISTED and not ("." in qualname and all(f.endswith("/class_and_ctor_args.pkl") for f in files))
    }


# A payload of several frames, objects handed to Tune and RLlib, and a global of ours with no
# promised name (the module string is shared through the memo with a promised one).
def sample():
    from smarts_rl.algorithms import pg_algorithm

    return {
        "callbacks": [persisted.DrivingMetrics, persisted.SimulatorTime],
        "mapping": persisted.shared_policy,
        "runner": persisted.MultiAgentRunner,
        "dirname": persisted.trial_dirname,
        "method": persisted.PG.training_step,
        "not promised": pg_algorithm.sample_steps,
        "promised beside it": pg_algorithm.PG,
        "big": os.urandom(200_000),
        "many": [f"item {i}" for i in range(20_000)],
    }


@pytest.mark.parametrize("protocol", [0, 2, 4, 5])
def test_a_pickle_with_older_names_loads_once_rewritten(protocol):
    obj = sample()
    old = with_older_names(pickle.dumps(obj, protocol=protocol))
    assert ("smarts_rl.training", "trial_dirname") in pickled_globals(old)
    assert ("smarts_rl.fault_tolerance", "MultiAgentRunner") in pickled_globals(old)
    with pytest.raises((ImportError, AttributeError)):
        pickle.loads(old)  # the older modules are gone

    new = rewrite_pickle(old)
    assert pickle.loads(new) == {**obj, "promised beside it": persisted.PG}
    ours = {(m, q) for m, q in pickled_globals(new) if m.startswith("smarts_rl")}
    # Below protocol 4 a method is pickled as getattr(its class, name).
    method = ["PG.training_step"] if protocol >= 4 else []
    assert ours == {(PERSISTED, q) for q in ("DrivingMetrics", "SimulatorTime", "shared_policy", "MultiAgentRunner",
                                             "trial_dirname", "PG", *method)} | {
        ("smarts_rl.algorithms.pg_algorithm", "sample_steps")}
    assert rewrite_pickle(new) is new  # nothing left to rewrite


def test_frames_are_rebuilt_within_their_limits():
    import pickletools

    new = rewrite_pickle(with_older_names(pickle.dumps(sample(), protocol=5)))
    ops = list(pickletools.genops(new))
    frames = [(arg, pos) for op, arg, pos in ops if op.name == "FRAME"]
    assert len(frames) > 2
    positions = [pos for _, _, pos in ops] + [len(new)]
    for size, pos in frames:  # each frame ends exactly at an opcode boundary
        assert pos + 9 + size in positions


def test_several_pickles_in_one_file_are_each_rewritten():
    old = with_older_names(pickle.dumps(persisted.RunStopper, protocol=5)) * 2
    new = rewrite_pickle(old)
    import io

    stream = io.BytesIO(new)
    assert [pickle.load(stream), pickle.load(stream)] == [persisted.RunStopper] * 2


def test_a_run_directory_is_migrated_once_and_atomically(tmp_path):
    run = tmp_path / "run"
    (run / ".hydra").mkdir(parents=True)
    (run / ".hydra" / "config.yaml").write_text("seed: 0\n")
    trial = run / "tune" / "trial_1"
    trial.mkdir(parents=True)
    (trial / "params.pkl").write_bytes(with_older_names(pickle.dumps({"x": persisted.DrivingMetrics}, protocol=5)))
    (trial / "progress.csv").write_text("a,b\n1,2\n")
    ours = pickle.dumps([1, 2], protocol=5)
    (trial / "state.pkl").write_bytes(ours)
    hexed = with_older_names(pickle.dumps(persisted.RunStopper, protocol=5)).hex()
    inner = json.dumps({"stopper": {"_type": "CLOUDPICKLE_FALLBACK", "value": hexed}, "n": 1.5})
    (run / "tune" / "experiment_state-1.json").write_text(json.dumps({"trial_data": [[inner, "{}"]], "x": None}))

    rewritten = migrate_run_of(trial)  # a checkpoint's run is found upwards
    assert sorted(p.name for p in rewritten) == ["experiment_state-1.json", "params.pkl"]
    assert pickle.loads((trial / "params.pkl").read_bytes()) == {"x": persisted.DrivingMetrics}
    assert (trial / "state.pkl").read_bytes() == ours  # nothing of ours: untouched
    [embedded] = embedded_pickles(run / "tune" / "experiment_state-1.json")
    assert pickle.loads(embedded) is persisted.RunStopper
    assert json.loads(json.loads((run / "tune" / "experiment_state-1.json").read_text())["trial_data"][0][0])["n"] == 1.5
    record = json.loads((run / PICKLES_MIGRATED).read_text())
    assert record["rewritten"] == ["tune/experiment_state-1.json", "tune/trial_1/params.pkl"]
    assert not [p for p in run.rglob("*.tmp")]

    # Once: a second call reads nothing (an older name put back stays as it is).
    (trial / "params.pkl").write_bytes(with_older_names(pickle.dumps(persisted.TrialLines, protocol=5)))
    assert migrate(run) == []
    assert ("smarts_rl.console", "TrialLines") in pickled_globals((trial / "params.pkl").read_bytes())


def test_the_command_migrates_a_directory_and_refuses_a_missing_one(tmp_path):
    (tmp_path / "checkpoint").mkdir()
    (tmp_path / "checkpoint" / "class_and_ctor_args.pkl").write_bytes(
        with_older_names(pickle.dumps(persisted.ActorCriticModule, protocol=5)))
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run([sys.executable, "-m", "smarts_rl.migrate", f"run={tmp_path / 'checkpoint'}"],
                          capture_output=True, text=True, env=env, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "1 file(s) rewritten" in done.stdout
    assert (tmp_path / "checkpoint" / PICKLES_MIGRATED).is_file()
    refused = subprocess.run([sys.executable, "-m", "smarts_rl.migrate", "run=nope"],
                             capture_output=True, text=True, env=env, cwd=tmp_path)
    assert refused.returncode == 2
    assert refused.stderr.strip().splitlines() == [f"run=nope: no such directory ({tmp_path / 'nope'})"]


def test_every_promised_name_is_in_persisted_under_that_name():
    for name in set(PROMISED.values()):
        obj = getattr(persisted, name)
        assert (obj.__module__, obj.__qualname__) == (PERSISTED, name)


def test_no_older_module_is_a_module_of_today():
    # Its pickled names would then import that module instead of being migrated.
    import smarts_rl

    package = Path(smarts_rl.__file__).parent
    for old in OLD_MODULES:
        leaf = old.removeprefix("smarts_rl.").replace(".", "/")
        assert not (package / f"{leaf}.py").exists() and not (package / leaf).exists(), old


@pytest.mark.parametrize("kept", sorted(p.name for p in KEPT_RUNS.iterdir()) if KEPT_RUNS.is_dir() else [])
def test_the_kept_runs_are_migrated(kept):
    for run in sorted(p for p in (KEPT_RUNS / kept).iterdir() if (p / ".hydra").is_dir()):
        assert json.loads((run / PICKLES_MIGRATED).read_text())["names"] == PERSISTED
        imports = run_imports(run)
        assert imports and not not_promised(imports), (run, not_promised(imports))


def test_a_directory_that_cannot_be_written_is_refused_only_when_it_needs_rewriting(tmp_path):
    from smarts_rl.errors import UsageError

    checkpoint = tmp_path / "checkpoint"
    (checkpoint / PICKLES_MIGRATED / "blocked").mkdir(parents=True)  # the record cannot be written
    (checkpoint / "class_and_ctor_args.pkl").write_bytes(pickle.dumps(persisted.ActorCriticModule, protocol=5))
    assert migrate(checkpoint) == []  # today's names: it loads as it is
    (checkpoint / "class_and_ctor_args.pkl").write_bytes(
        with_older_names(pickle.dumps(persisted.ActorCriticModule, protocol=5)))
    with pytest.raises(UsageError, match="must be rewritten once"):
        migrate(checkpoint)
