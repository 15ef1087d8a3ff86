"""``helpline console`` as a process on a real broker, for end-to-end tests: the agent's
password set with ``helpline console passwd`` first, like an operator would."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from runtime.kafka import free_port
from schemas.stage import KafkaConnection

REPO = Path(__file__).resolve().parents[2]
START_TIMEOUT_S = 90.0
STOP_TIMEOUT_S = 20.0
ARTIFACTS = REPO / "tests" / "e2e" / "artifacts"  # screenshots (gitignored)


@dataclass(frozen=True)
class RunningConsole:
    url: str
    env: dict[str, str]


def console_env(conn: KafkaConnection, tmp: Path, secret: str = "e2e-secret") -> dict[str, str]:
    env = {**os.environ, "HELPLINE_KAFKA__BOOTSTRAP_SERVERS": conn.bootstrap_servers,
           "HELPLINE_KAFKA__TOPIC_PREFIX": conn.topic_prefix, "HELPLINE_SECRET_KEY": secret,
           "HELPLINE_CONSOLE__PASSWORD_FILE": str(tmp / "passwords.json"),
           "HELPLINE_CONSOLE__SSE_HEARTBEAT_S": "2"}
    env.pop("HELPLINE_CONFIG", None)
    return env


def set_password(env: dict[str, str], agent_id: str, password: str) -> None:
    done = subprocess.run([sys.executable, "-m", "runtime.cli", "console", "passwd", agent_id,
                           "--password-stdin"], cwd=REPO, env=env, input=password + "\n",
                          capture_output=True, text=True, timeout=START_TIMEOUT_S)
    assert done.returncode == 0, done.stderr


@contextmanager
def running_console(env: dict[str, str]) -> Iterator[RunningConsole]:
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "runtime.cli", "console", "--port",
                             str(port)], cwd=REPO, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            if proc.poll() is not None:
                err = proc.stderr.read().decode() if proc.stderr else ""
                raise AssertionError(f"helpline console exited: {err}")
            try:
                if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError("helpline console did not come up")
            time.sleep(0.3)
        yield RunningConsole(url, env)
    finally:
        proc.terminate()
        try:
            proc.wait(STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
