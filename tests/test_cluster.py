"""`train.py ray.address=...` on a two-node Ray cluster on loopback, started and stopped here.

Each node is a `ray start --block` in its own session (process group), with its own temp dir,
ports and token, so the test never touches another Ray on the machine and can kill exactly
its own nodes. Nodes and driver share this machine's disk, so the test checks that env runners
loaded the scenarios (a set of two) and our package from the copies Ray shipped with the job (under
the node's own temp dir), not from the driver's paths.
"""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import psutil
import pytest

from tests.helpers import ONE_RUNNER, TINY
from tests.test_train import REPO

RAY = str(Path(sys.executable).parent / "ray")
HEAD_START_TRIES = 3
PORT_OPTIONS = (
    "--node-manager-port", "--object-manager-port", "--dashboard-agent-listen-port",
    "--dashboard-agent-grpc-port", "--runtime-env-agent-port", "--metrics-export-port",
)


def free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


class Node:
    """One `ray start --block` node in its own process group."""

    def __init__(self, name: str, args: list[str], env: dict, temp_dir: Path):
        self.name, self.temp_dir = name, temp_dir
        ports = free_ports(len(PORT_OPTIONS) + 2)
        options = [f"{option}={port}" for option, port in zip(PORT_OPTIONS, ports)]
        # Worker processes need ports too: a small private range.
        low = 20000 + (ports[-1] % 20000)
        options += [f"--min-worker-port={low}", f"--max-worker-port={low + 99}"]
        self.log = open(temp_dir.parent / f"{name}.log", "w")
        self.process = subprocess.Popen(
            [RAY, "start", "--block", "--node-ip-address=127.0.0.1", f"--temp-dir={temp_dir}",
             "--num-cpus=1", "--object-store-memory=100000000", "--disable-usage-stats", *options, *args],
            env=env, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True,
        )
        self.pgid = self.process.pid

    def processes(self) -> list[psutil.Process]:
        """Every process of this node: `ray start`'s descendants (Ray's workers leave its process
        group), its process group, and anything naming its temp dir."""
        try:
            found = {p.pid: p for p in psutil.Process(self.process.pid).children(recursive=True)}
        except psutil.NoSuchProcess:
            found = {}
        for process in psutil.process_iter(["pid", "cmdline"]):
            try:
                if os.getpgid(process.pid) == self.pgid or str(self.temp_dir) in " ".join(process.info["cmdline"] or []):
                    found.setdefault(process.pid, process)
            except (ProcessLookupError, psutil.NoSuchProcess):
                pass
        return list(found.values())

    def stop(self) -> list[psutil.Process]:
        """SIGKILL to every process of the node (SIGTERM would end `ray start` only, not
        gcs_server and raylet); returns those still running after that (none expected)."""
        processes = self.processes()
        try:
            os.killpg(self.pgid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        for process in processes:
            try:
                process.kill()
            except psutil.NoSuchProcess:
                pass
        self.process.wait(timeout=30)
        _, alive = psutil.wait_procs(processes, timeout=30)
        self.log.close()
        return alive + [p for p in self.processes() if p.pid != self.process.pid]


# Another job holding every CPU of the cluster (one per node) until it is killed.
BLOCKER = """
import logging, time, ray
ray.init(address=%r, logging_level=logging.ERROR)
@ray.remote(num_cpus=1)
class Hold:
    def ready(self):
        return True
holds = [Hold.remote() for _ in range(2)]
ray.get([h.ready.remote() for h in holds])
print("holding", flush=True)
time.sleep(600)
"""


def alive_nodes(address: str, env: dict) -> int:
    probe = (
        "import ray, logging; ray.init(address=%r, logging_level=logging.ERROR); "
        "print(sum(n['Alive'] for n in ray.nodes()))" % address
    )
    result = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, timeout=120)
    return int(result.stdout.split()[-1]) if result.returncode == 0 and result.stdout.split() else 0


@pytest.fixture
def loopback_cluster():
    """(address, env with the cluster's token, head Node, worker Node)."""
    # Short paths: Ray's unix sockets live under the temp dir (a ~100-character limit).
    root = Path(tempfile.mkdtemp(prefix="rc", dir="/tmp"))
    env = {**os.environ, "RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": uuid.uuid4().hex,
           "RAY_USAGE_STATS_ENABLED": "0"}
    # The nodes' workers compile what they import, which shows where they imported it from.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    nodes = []
    try:
        # `ray start` exits at once when a port picked for it was taken in the meantime (ports
        # are free when picked, not reserved): then it is tried again with new ports.
        for attempt in range(HEAD_START_TRIES):
            [gcs_port] = free_ports(1)
            head = Node("head", ["--head", f"--port={gcs_port}", "--include-dashboard=false"], env, root / f"h{attempt}")
            nodes.append(head)
            deadline = time.monotonic() + 120
            while socket.socket().connect_ex(("127.0.0.1", gcs_port)) != 0 and head.process.poll() is None:
                assert time.monotonic() < deadline, "the head node did not start in 120 s"
                time.sleep(0.5)
            if head.process.poll() is None:
                break
            head.stop()
            nodes.pop()
            log = (root / "head.log").read_text()
        else:
            raise AssertionError(f"the head node did not start in {HEAD_START_TRIES} tries; its log:\n{log[-3000:]}")
        address = f"127.0.0.1:{gcs_port}"
        nodes.append(Node("worker", [f"--address={address}"], env, root / "w"))
        while alive_nodes(address, env) < 2:
            assert time.monotonic() < deadline and nodes[1].process.poll() is None, "the worker node did not join"
            time.sleep(1)
        yield address, env, nodes[0], nodes[1]
    finally:
        for node in nodes:
            node.stop()
        shutil.rmtree(root, ignore_errors=True)


def shipped(path: str, node) -> bool:
    """Whether `path` lies in what Ray unpacked from the job's runtime_env on `node`."""
    return Path(path).is_relative_to(node.temp_dir) and "runtime_resources" in Path(path).parts


@pytest.mark.slow
def test_pbt_on_a_two_node_loopback_cluster_uses_both_nodes_and_the_shipped_scenario_and_code(
    loopback_cluster, tmp_path
):
    address, env, head, worker = loopback_cluster
    run_dir = tmp_path / "run"
    process = subprocess.Popen(
        [sys.executable, str(REPO / "train.py"), f"ray.address={address}", "scheduler=pbt", "scenario.set=[loop,merge]",
         "scheduler.population_size=2", "scheduler.perturbation_interval=1", "scheduler.quantile_fraction=0.5",
         "scheduler.hyperparam_mutations.train_batch_size=[200]", "scheduler.hyperparam_mutations.entropy_coeff=[0.0]",
         "stop.training_iteration=2", *TINY, *ONE_RUNNER, f"hydra.run.dir={run_dir}"],
        cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    # While it trains: which node each `sumo` runs on, the map it loaded, and where its env
    # runner finds smarts_rl (Ray puts the shipped package on the worker's PYTHONPATH).
    seen = {}
    while process.poll() is None:
        for node in (head, worker):
            for p in node.processes():
                try:
                    if p.name() == "sumo" and p.pid not in seen:
                        runner = p.parent()
                        seen[p.pid] = (node.name, p.cmdline(), runner.environ().get("PYTHONPATH", ""))
                except psutil.NoSuchProcess:
                    pass
        time.sleep(0.5)
    stdout, stderr = process.communicate()
    assert process.returncode == 0, stderr[-3000:]

    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["status"] == "completed" and len(summary["trials"]) == 2
    assert all(t["training_iteration"] == 2 and t["checkpoint"] for t in summary["trials"])

    assert {name for name, _, _ in seen.values()} == {"head", "worker"}, seen
    copies = set()  # the shipped scenario folders sumo loaded a map from
    for name, cmdline, pythonpath in seen.values():
        node = head if name == "head" else worker
        [net] = [arg.split("=", 1)[1] for arg in cmdline if arg.startswith("--net-file=")]
        assert shipped(net, node) and (Path(net).parent / "smarts-rl-build.json").is_file(), cmdline
        copies.add(Path(net).parent.name)
        package_dirs = [entry for entry in pythonpath.split(os.pathsep) if (Path(entry) / "smarts_rl").is_dir()]
        assert package_dirs and shipped(package_dirs[0], node), pythonpath
    # Both scenarios of the set: loop in the job's working_dir, merge as a py_module named as its build.
    assert any(c.startswith("_ray_pkg_") for c in copies) and any(c.startswith("merge-") for c in copies), copies
    for node in (head, worker):
        # Python compiled our env and callbacks inside each node's shipped copy: imported from there.
        compiled = list(node.temp_dir.glob("session_*/runtime_resources/py_modules_files/*/smarts_rl/env/__pycache__/smarts_env.*.pyc"))
        assert compiled, f"no env runner on the {node.name} node imported the shipped smarts_rl"

    # Asking for more CPUs than the cluster has: refused in one line, exit 2.
    refused = subprocess.run(
        [sys.executable, str(REPO / "train.py"), f"ray.address={address}", "ray.num_cpus=8", *TINY,
         f"hydra.run.dir={tmp_path / 'refused'}"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300,
    )
    assert refused.returncode == 2, refused.stderr[-2000:]
    assert refused.stderr.strip().splitlines() == [
        f"train.py: error: ray.num_cpus=8: the cluster at {address} has only 2 CPUs"
    ]

    # Every CPU of the cluster taken by another job: the run waits, then gives up as told (exit 1),
    # resumable, and leaves nothing of its own behind.
    blocker = subprocess.Popen(
        [sys.executable, "-c", BLOCKER % address], env=env, stdout=subprocess.PIPE, text=True, start_new_session=True)
    try:
        assert blocker.stdout.readline().strip() == "holding", "the blocking job did not take the CPUs"
        waiting_dir = tmp_path / "waiting"
        waited = subprocess.run(
            [sys.executable, str(REPO / "train.py"), f"ray.address={address}", "ray.wait_for_resources_s=15", *TINY,
             *ONE_RUNNER, f"hydra.run.dir={waiting_dir}"], cwd=tmp_path, env=env, capture_output=True, text=True,
            timeout=300, start_new_session=True,
        )
    finally:
        blocker.kill()
        blocker.wait()
    assert waited.returncode == 1, waited.stderr[-2000:]
    summary = json.loads((waiting_dir / "summary.json").read_text())
    assert summary["status"] == "failed"
    assert "waiting for CPUs: 1 trial(s) cannot start, each needs 2 CPUs; Ray has 0 of 2 CPUs free" in summary["error"]
    assert "gave up after ray.wait_for_resources_s=15" in summary["error"]
    assert f"continue it with: python train.py resume={waiting_dir}" in waited.stdout + waited.stderr

    # The test's nodes stop, and nothing of theirs is left behind.
    for node in (head, worker):
        assert node.stop() == [], f"{node.name} node processes left"
