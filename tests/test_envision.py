"""Envision as a user sees it: our Envision server on 127.0.0.1, an evaluation streaming to it,
and the page in headless Chromium, whose screenshot must show the scene."""

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request

import pytest

from tests.browser import chromium, chromium_path, free_port, scene_statistics
from tests.conftest import written_eval_dir

pytestmark = pytest.mark.skipif(
    chromium_path() is None, reason="needs Debian's chromium package (.ci/run installs it)"
)
# A scene is drawn when this share of the view differs from its background: the loop's road
# covers about 12% of it, a blank or still loading view 0-0.1%.
DRAWN_FRACTION = 0.03


def simulations(port: int) -> list[str]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/simulations", timeout=5) as response:
        return json.load(response)["simulations"]


@pytest.fixture
def envision_server(tmp_path):
    port = free_port()
    log = open(tmp_path / "envision_server.log", "w")
    server = subprocess.Popen(
        [sys.executable, "-m", "smarts_rl.envision_server", "--host", "127.0.0.1", "--port", str(port)],
        cwd=tmp_path, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2) as response:
                    assert response.status == 200
                break
            except OSError:
                assert server.poll() is None, (tmp_path / "envision_server.log").read_text()
                assert time.monotonic() < deadline, "the Envision server did not start"
                time.sleep(0.3)
        yield port
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
        log.close()


def test_an_evaluation_streams_to_envision_and_the_page_shows_it(laner_run, laner_eval, envision_server, tmp_path):
    port = envision_server
    screenshot, statistics = tmp_path / "envision.png", None
    # The page is up first, as a user's would be: it picks up a simulation when one starts.
    with chromium(f"http://127.0.0.1:{port}/#/all") as page:
        wait_for(lambda: "All Simulations" in (page.evaluate("document.body.innerText") or ""), 120,
                 "the Envision page did not load")
        evaluation = subprocess.Popen(
            [sys.executable, "-m", "smarts_rl.evaluate", f"run={laner_run}", "episodes=2", "gif=false",
             "envision=true", f"envision_endpoint=ws://127.0.0.1:{port}"],
            cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        try:
            wait_for(lambda: simulations(port) or evaluation.poll() is not None, 180, "no simulation reached Envision")
            assert evaluation.poll() is None, evaluation.communicate()[1][-3000:]
            [simulation] = simulations(port)
            assert simulation.startswith("smarts_rl_eval")

            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                box = page.largest_canvas()
                if box:
                    png = page.screenshot()
                    screenshot.write_bytes(png)
                    statistics = scene_statistics(png, box)
                    if statistics["drawn_fraction"] > DRAWN_FRACTION:
                        break
                time.sleep(0.5)
            assert statistics and statistics["drawn_fraction"] > DRAWN_FRACTION and statistics["colours"] > 20, (
                f"the scene did not render: {statistics}, see {screenshot}"
            )
            assert page.evaluate("location.hash") == f"#/{simulation}"  # the page shows our simulation
            stdout, stderr = evaluation.communicate(timeout=600)
        finally:
            if evaluation.poll() is None:
                evaluation.kill()
                evaluation.wait()
    assert evaluation.returncode == 0, stderr[-3000:]
    # Streaming changes nothing in the simulation: the policy's episodes are those of the
    # evaluation without Envision.
    report = json.loads((written_eval_dir(stdout) / "eval.json").read_text())
    _, reference, _ = laner_eval
    assert report["policies"]["policy"]["per_agent_episode"] == reference["policies"]["policy"]["per_agent_episode"]


def wait_for(condition, timeout_s: float, failure: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, failure
        time.sleep(0.5)
