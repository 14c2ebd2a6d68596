"""bench/soak.py's accounting of a run directory's disk use. Fast: no SMARTS, no Ray."""

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "bench"))

import soak  # noqa: E402


def _file(path: Path, size: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"x" * size)


def test_disk_is_split_into_checkpoints_events_results_and_the_rest(tmp_path):
    mb = 2**20
    trial = tmp_path / "tune" / "trial_0"
    _file(trial / "checkpoint_000001" / "learner_group" / "state.pkl", 3 * mb)
    _file(trial / "checkpoint_000002" / "rllib_checkpoint.json", mb)
    _file(trial / "events.out.tfevents.123.host", 2 * mb)
    _file(trial / "result.json", mb // 2)
    _file(trial / "progress.csv", mb // 2)
    _file(tmp_path / "train.log", mb // 4)
    _file(tmp_path / "soak.csv", 5 * mb)  # the bench's own file: not the run's
    _file(tmp_path / "soak-disk.csv", 5 * mb)

    sizes = soak.disk_mb(tmp_path)

    assert sizes == {"checkpoints": 4.0, "tensorboard": 2.0, "results": 1.0, "other": 0.25, "total": 7.25}


def test_disk_growth_is_fitted_from_the_reference_on_and_projected_to_the_target():
    samples = [{"env_steps": steps, "checkpoints": 3.0, "tensorboard": 0.0, "results": steps / 1e4,
                "other": 1.0, "total": 4.0 + steps / 1e4}
               for steps in (1000, 5000, 10000, 20000, 30000)]
    samples[0]["total"] = 1.0  # before the first checkpoint: not part of the fit from the reference

    figures = soak.disk_figures(samples, reference_steps=5000, target_steps=1_000_000)

    assert figures["slope_mb_per_1k_steps"] == 0.1
    assert figures["end_env_steps"] == 30000 and figures["mb_at_end"]["total"] == 7.0
    assert figures["projected_mb_at_env_steps"] == 104.0  # 7 + 0.1 * 970
    assert soak.disk_figures([], 5000, 1_000_000) is None
