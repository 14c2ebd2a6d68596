"""Run directories outlive the package's layout: a kept bench run as it was committed evaluates
and starts a new run, a run naming the modules of before December 2026 resumes, and the pickles
of a new run name nothing of ours but `smarts_rl.persisted` (real Ray, tiny budgets)."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from smarts_rl.migrate import PERSISTED, rewritten_content
from smarts_rl.run_dir.layout import PICKLES_MIGRATED
from tests.conftest import run_module, written_eval_dir
from tests.helpers import ONE_RUNNER, TINY
from tests.test_migrate import KEPT_RUNS, names_before_persisted, not_promised, older_name, run_imports

REPO = Path(__file__).resolve().parent.parent


def renamed(run: Path, rename) -> Path:
    """`run` with its pickles naming ours as `rename` says, as a run made before would."""
    for path in sorted(p for p in run.rglob("*") if p.is_file()):
        content = rewritten_content(path, rename, modules={})
        if content is not None:
            path.write_bytes(content)
    (run / PICKLES_MIGRATED).unlink(missing_ok=True)
    return run


def train(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(REPO / "train.py"), *args], cwd=cwd, capture_output=True, text=True,
                          timeout=900)


@pytest.mark.slow
def test_a_kept_run_as_committed_evaluates_and_starts_a_new_run_that_pickles_only_promised_names(tmp_path):
    kept = renamed(shutil.copytree(KEPT_RUNS / "loop_continuous_pg" / "seed_0", tmp_path / "kept"),
                   names_before_persisted)
    assert ("smarts_rl.algorithms.actor_critic_module", "ActorCriticModule") in run_imports(kept)

    evaluated = run_module("smarts_rl.evaluate", f"run={kept}", "episodes=1", "gif=false",
                           "agent.max_episode_steps=20", cwd=tmp_path)
    assert evaluated.returncode == 0, evaluated.stderr[-3000:]
    assert (written_eval_dir(evaluated.stdout) / "eval.json").is_file()
    assert json.loads((kept / PICKLES_MIGRATED).read_text())["rewritten"]
    assert not not_promised(run_imports(kept))

    new = tmp_path / "new"
    started = train(f"init_from={kept}", "+experiment=loop_pg", "agent=continuous", *TINY, *ONE_RUNNER,
                    "stop.training_iteration=1", f"hydra.run.dir={new}", cwd=tmp_path)
    assert started.returncode == 0, started.stderr[-3000:]
    summary = json.loads((new / "summary.json").read_text())
    assert summary["status"] == "completed" and summary["init_from"].startswith(str(kept))
    imports = run_imports(new)
    assert (PERSISTED, "warm_start_modules") in imports and (PERSISTED, "ActorCriticModule") in imports
    assert not not_promised(imports), not_promised(imports)


@pytest.mark.slow
def test_a_run_naming_the_modules_of_before_december_resumes(laner_run, tmp_path):
    run = renamed(shutil.copytree(laner_run, tmp_path / "run"), older_name)
    assert ("smarts_rl.training", "trial_dirname") in run_imports(run)  # read from Tune's experiment state

    resumed = train(f"resume={run}", "stop.training_iteration=2", cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    summary = json.loads((run / "summary.json").read_text())
    assert summary["status"] == "completed", summary.get("error")
    assert [t["training_iteration"] for t in summary["trials"]] == [2]
    assert json.loads((run / PICKLES_MIGRATED).read_text())["rewritten"]
    assert not not_promised(run_imports(run)), not_promised(run_imports(run))


def promised(obj) -> bool:
    return getattr(obj, "__module__", None) == PERSISTED


@pytest.mark.parametrize("algo", ["pg", "ppo"])
def test_what_a_run_hands_to_rllib_has_a_promised_name(tmp_path, algo):
    from smarts_rl.config import compose_config, settings
    from smarts_rl.run.rllib_setup import build_algorithm_config

    for policy in ("shared", "per_agent"):
        config = build_algorithm_config(settings(compose_config([f"algo={algo}", f"agents.policy={policy}"])), tmp_path)
        handed = [config.algo_class, config.learner_class, config.env_runner_cls, config.policy_mapping_fn,
                  *config.callbacks_class]
        if algo == "pg":
            handed.append(config.get_default_rl_module_spec().module_class)
        assert all(promised(obj) for obj in handed), [obj for obj in handed if not promised(obj)]
        assert promised(type(config.algo_class.get_default_config())) or algo == "ppo"  # PPO's is RLlib's own


def test_the_pbt_scheduler_and_the_warm_start_callback_have_promised_names(tmp_path):
    from smarts_rl.run.warm_start import WarmStart, on_algorithm_init
    from smarts_rl.schedulers import pbt

    scheduler = pbt.Settings(hyperparam_mutations={"lr": [1e-3, 1e-4]}).tune_scheduler("m", "max", tmp_path)
    assert promised(type(scheduler))
    assert promised(on_algorithm_init(WarmStart(tmp_path, {"shared": "shared"})).func)
