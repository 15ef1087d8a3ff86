"""README's first command: `helpline dev` brings up Kafka, every worker, the chat service and an
SMTP sink, and a sample email and a sample chat message each become a ticket that is
classified, assigned and acknowledged — the whole pipeline, real processes, real broker."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration


def test_helpline_dev_makes_tickets_from_email_and_chat(kafka: object, tmp_path: Path) -> None:
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path),
           "HELPLINE_KAFKA__BOOTSTRAP_SERVERS": kafka.bootstrap,  # type: ignore[attr-defined]
           # the code under test, when it is not the venv's editable install (a worktree)
           **{k: v for k, v in os.environ.items() if k == "PYTHONPATH"}}
    proc = subprocess.run(
        [sys.executable, "-m", "runtime.cli", "dev", "--demo-only", "--timeout", "150"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=280, check=False)
    out = proc.stdout
    logs = "\n".join(f"--- {p.name}\n{p.read_text()[-1500:]}"
                     for p in sorted((tmp_path / ".cache/dev/logs").glob("*.log")))
    assert proc.returncode == 0, out + proc.stderr + logs
    assert "2 ticket(s) made, 2 classified and assigned, 2 acknowledged" in out
    assert "email from Camille Durand" in out
    assert "phone-overheating" in out  # the French rule matched an accented subject
    # the category model trained at start, pushed, verified and loaded by the classify worker,
    # its label and confidence beside the rules
    assert "model: category hardware 0." in out and "model: category delivery 0." in out
    assert "chat from Sam Visitor" in out  # the visitor's contact reached the ticket
    assert "auto-acknowledgement sent by chat" in out
    assert "policy high" in out  # the SLA announced after classification raised the priority
    assert "Auto-Submitted: auto-replied" in out  # the email ack, as the SMTP sink received it


def _processes_naming(text: str) -> list[int]:
    pids = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if text in cmdline:
            pids.append(int(proc.name))
    return pids


def test_helpline_dev_stopped_by_sigterm_stops_its_workers(kafka: object,
                                                           tmp_path: Path) -> None:
    """A closed terminal or a ``kill`` must not leave eight worker processes behind."""
    import signal
    import time

    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "PYTHONUNBUFFERED": "1",
           "HELPLINE_KAFKA__BOOTSTRAP_SERVERS": kafka.bootstrap}  # type: ignore[attr-defined]
    proc = subprocess.Popen(
        [sys.executable, "-m", "runtime.cli", "dev", "--timeout", "150"],
        cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    config = str(tmp_path / ".cache/dev/helpline.toml")
    out = []
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            out.append(line)
            if line.startswith("Running."):
                break
        assert proc.poll() is None, "".join(out)
        workers = _processes_naming(config)
        assert len(workers) >= 5, (workers, "".join(out))
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(60) == 128 + signal.SIGTERM
        deadline = time.monotonic() + 20
        while _processes_naming(config) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert _processes_naming(config) == [], "workers outlived helpline dev"
    finally:
        if proc.poll() is None:
            proc.kill()
        for pid in _processes_naming(config):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
