"""sisearch reaches no network unless asked to download a model: index, query and serve run
in a network namespace with no way out, traced, and no connection leaves the machine."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import CORPUS_JSONL

needs_tools = pytest.mark.skipif(
    not (hasattr(os, "geteuid") and os.geteuid() == 0)
    or not all(shutil.which(tool) for tool in ("unshare", "strace", "ip")),
    reason="needs root, unshare, strace and ip (iproute2)",
)
SERVE_AND_ASK = """
import http.client, json, socket, subprocess, sys, time
port = int(sys.argv[2])
server = subprocess.Popen([sys.executable, "-m", "sisearch", "serve", "--index-dir", sys.argv[1],
                           "--port", str(port)])
try:
    for _ in range(300):  # bounded: at most 30 s
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            time.sleep(0.1)
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    connection.request("GET", "/api/indexes/default/search?q=" + "%E0%B6%9A%E0%B7%9C")
    assert connection.getresponse().status == 200
finally:
    server.terminate()
    server.wait(timeout=30)
"""
OUTBOUND = re.compile(r"^\d+ +(connect|sendto|sendmsg)\(.*sa_family=AF_INET6?\b")
LOOPBACK = ('"127.0.0.1"', '"::1"', '"::ffff:127.0.0.1"')


@needs_tools
def test_index_query_and_serve_reach_no_network(tmp_path: Path, tiny_model: str) -> None:
    folder = tmp_path / "indexes"
    (tmp_path / "serve.py").write_text(SERVE_AND_ASK, encoding="utf-8")
    python = sys.executable
    script = " && ".join(
        [
            "ip link set lo up",
            f"{python} -m sisearch index {CORPUS_JSONL} --model {tiny_model}"
            f" --index-dir {folder} -q",
            f"{python} -m sisearch query 'ශ්‍රී ලංකාව' --index-dir {folder} --json > /dev/null",
            f"{python} {tmp_path / 'serve.py'} {folder} 8765",
        ]
    )
    trace = tmp_path / "trace"
    environment = {k: v for k, v in os.environ.items() if k != "ORT_DISABLE_TELEMETRY"}
    result = subprocess.run(
        ["unshare", "-n", "strace", "-f", "-qq", "-e", "trace=connect,sendto,sendmsg"]
        + ["-o", str(trace), "sh", "-c", script],
        capture_output=True,
        text=True,
        timeout=600,
        env=environment,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert outbound(trace) == [], outbound(trace)[:5]
    # The trace does see a look-up: the same check on one that names a host finds it.
    control = tmp_path / "control"
    lookup = "import socket\ntry: socket.getaddrinfo('example.com', 80)\nexcept OSError: pass"
    subprocess.run(
        ["unshare", "-n", "strace", "-f", "-qq", "-e", "trace=connect,sendto,sendmsg"]
        + ["-o", str(control), python, "-c", lookup],
        timeout=60,
        check=True,
    )
    if "nameserver" in Path("/etc/resolv.conf").read_text(errors="replace"):
        assert outbound(control)


def outbound(trace: Path) -> list[str]:
    """Traced connections (or datagrams) to an address that is not this machine's loopback."""
    return [
        line
        for line in trace.read_text(errors="replace").splitlines()
        if OUTBOUND.search(line) and not any(address in line for address in LOOPBACK)
    ]
