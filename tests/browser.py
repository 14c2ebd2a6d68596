"""Headless Chromium driven over its DevTools protocol: open a page, take screenshots of it.

The machine's network is closed: every host name but 127.0.0.1 resolves to nothing inside the
browser (Envision's page links a script on the internet), and Chromium's own background
traffic is switched off.
"""

from __future__ import annotations

import base64
import io
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.request
from contextlib import contextmanager

import numpy as np

CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
]
WIDTH, HEIGHT = 1280, 800


def chromium_path() -> str | None:
    return shutil.which("chromium")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Page:
    def __init__(self, ws_url: str):
        import websocket

        self._ws = websocket.create_connection(ws_url, timeout=30, suppress_origin=True)
        self._id = 0

    def call(self, method: str, **params) -> dict:
        self._id += 1
        self._ws.send(json.dumps({"id": self._id, "method": method, "params": params}))
        while True:  # events arrive in between; skip them
            message = json.loads(self._ws.recv())
            if message.get("id") == self._id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message.get("result", {})

    def screenshot(self) -> bytes:
        return base64.b64decode(self.call("Page.captureScreenshot", format="png")["data"])

    def evaluate(self, expression: str):
        return self.call("Runtime.evaluate", expression=expression, returnByValue=True)["result"].get("value")

    def largest_canvas(self) -> tuple[int, int, int, int] | None:
        """(left, top, right, bottom) of the page's largest canvas, if it has one."""
        box = self.evaluate(
            "(() => { const boxes = [...document.querySelectorAll('canvas')]"
            ".map(c => c.getBoundingClientRect()).filter(r => r.width > 0 && r.height > 0)"
            ".sort((a, b) => b.width * b.height - a.width * a.height);"
            " return boxes.length ? [boxes[0].left, boxes[0].top, boxes[0].right, boxes[0].bottom] : null; })()"
        )
        return tuple(round(v) for v in box) if box else None

    def close(self):
        self._ws.close()


@contextmanager
def chromium(url: str):
    """A headless Chromium showing `url`; yields a `Page`. Ends the browser's process group."""
    port = free_port()
    with tempfile.TemporaryDirectory() as profile:
        process = subprocess.Popen(
            [chromium_path(), *CHROMIUM_FLAGS, f"--user-data-dir={profile}",
             f"--remote-debugging-port={port}", "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
        )
        page = None
        try:
            target = _page_target(port, deadline=time.monotonic() + 30)
            page = Page(target["webSocketDebuggerUrl"])
            page.call("Page.enable")
            page.call("Emulation.setDeviceMetricsOverride", width=WIDTH, height=HEIGHT, deviceScaleFactor=1, mobile=False)
            page.call("Page.navigate", url=url)
            yield page
        finally:
            if page:
                page.close()
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


def _page_target(port: int, deadline: float) -> dict:
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=2) as response:
                pages = [t for t in json.load(response) if t.get("type") == "page"]
            if pages:
                return pages[0]
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise TimeoutError("Chromium did not open its DevTools port")
        time.sleep(0.2)


def scene_statistics(png: bytes, box: tuple[int, int, int, int]) -> dict:
    """How much is drawn in `box` (left, top, right, bottom): the share of pixels that differ
    clearly from the most common colour (the background), and the number of distinct colours."""
    from PIL import Image

    pixels = np.asarray(Image.open(io.BytesIO(png)).convert("RGB").crop(box)).reshape(-1, 3).astype(int)
    colours, counts = np.unique(pixels, axis=0, return_counts=True)
    background = colours[counts.argmax()]
    drawn = np.abs(pixels - background).max(axis=1) > 30
    return {"drawn_fraction": float(drawn.mean()), "colours": int(len(colours)), "background": background.tolist()}
