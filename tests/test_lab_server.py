"""`make lab` serves JupyterLab on the course: start it the same way and ask it for the lecture."""

import json
import socket
import subprocess
import sys
import time
import urllib.request

from conftest import ROOT


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_jupyterlab_serves_the_course(tmp_path):
    port = _free_port()
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "jupyter",
            "lab",
            "--no-browser",
            f"--port={port}",
            "--ip=127.0.0.1",
            "--ServerApp.token=",
            "--ServerApp.password=",
            f"--ServerApp.root_dir={ROOT}",
            "--LabApp.default_url=/lab/tree/course",
            "--allow-root",
        ],
        stdout=subprocess.DEVNULL,
        stderr=open(tmp_path / "lab.log", "w"),
    )
    try:
        deadline, page = time.monotonic() + 90, None
        while time.monotonic() < deadline and page is None:
            try:
                page = urllib.request.urlopen(f"http://127.0.0.1:{port}/lab", timeout=5).read().decode()
            except OSError:
                time.sleep(0.5)
        assert page and "JupyterLab" in page, (tmp_path / "lab.log").read_text()[-2000:]
        listing = json.load(
            urllib.request.urlopen(f"http://127.0.0.1:{port}/api/contents/course", timeout=10)
        )
        assert "01-profiling.ipynb" in {item["name"] for item in listing["content"]}
    finally:
        server.terminate()
        server.wait(timeout=30)
