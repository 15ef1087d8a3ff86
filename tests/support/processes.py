"""The helpline CLI and workers as real processes against a test broker."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Mapping
from pathlib import Path

from schemas.stage import KafkaConnection

REPO = Path(__file__).resolve().parents[2]


def helpline_env(conn: KafkaConnection, settings: Mapping[str, str] | None = None
                 ) -> dict[str, str]:
    """This process's environment pointed at ``conn``, plus ``HELPLINE_*`` settings."""
    env = {**os.environ, "HELPLINE_KAFKA__BOOTSTRAP_SERVERS": conn.bootstrap_servers,
           "HELPLINE_KAFKA__TOPIC_PREFIX": conn.topic_prefix, **(settings or {})}
    env.pop("HELPLINE_CONFIG", None)
    return env


def run_cli(conn: KafkaConnection, *args: str, timeout_s: float = 120
            ) -> subprocess.CompletedProcess[str]:
    """``helpline ARGS`` to its end; output captured as text."""
    return subprocess.run([sys.executable, "-m", "runtime.cli", *args], cwd=REPO,
                          env=helpline_env(conn), capture_output=True, text=True,
                          timeout=timeout_s, check=False)


def start_worker(conn: KafkaConnection, stage: str, instance_id: str,
                 settings: Mapping[str, str]) -> subprocess.Popen[bytes]:
    """``helpline worker STAGE --instance-id ID`` in the background (stderr kept)."""
    return subprocess.Popen(
        [sys.executable, "-m", "runtime.cli", "worker", stage, "--instance-id", instance_id],
        cwd=REPO, env=helpline_env(conn, settings), stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def stop(proc: subprocess.Popen[bytes], kill: bool) -> None:
    """SIGKILL (a crash) or SIGTERM (a clean stop), then wait; SIGKILL if it hangs."""
    if proc.poll() is None:
        (proc.kill if kill else proc.terminate)()
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)


def state_of(port: int) -> str:
    """A worker's state on its health endpoint (running, standby, taking-over, ...)."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as r:
            return str(json.loads(r.read())["state"])
    except OSError:
        return "unreachable"


def wait_until(cond: Callable[[], object], what: str, timeout_s: float = 60,
               poll_s: float = 0.2) -> None:
    deadline = time.monotonic() + timeout_s
    while not cond():
        assert time.monotonic() < deadline, what
        time.sleep(poll_s)
