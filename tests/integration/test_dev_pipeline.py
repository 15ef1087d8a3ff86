"""README's first command: `helpline dev` brings up Kafka, every worker, the chat service, the
agents' console and an SMTP sink, and a sample email and a sample chat message each become a
ticket that is classified, assigned and acknowledged — the whole pipeline, real processes, real
broker — and the printed console sign-in shows them in the queue."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import threading
import time
import tomllib
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

DEV_RUN_LIMIT_S = 400.0  # a cold start, the demo and the console checks on a busy machine
CONSOLE_CATCH_UP_S = 30.0


def test_helpline_dev_makes_tickets_from_email_and_chat(kafka: object, tmp_path: Path) -> None:
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "PYTHONUNBUFFERED": "1",
           "HELPLINE_KAFKA__BOOTSTRAP_SERVERS": kafka.bootstrap,  # type: ignore[attr-defined]
           # the code under test, when it is not the venv's editable install (a worktree)
           **{k: v for k, v in os.environ.items() if k == "PYTHONPATH"}}
    # left running after the demo (as `make dev`), so its console can be signed in to
    proc = subprocess.Popen(
        [sys.executable, "-m", "runtime.cli", "dev", "--timeout", "150"],
        cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    watchdog = threading.Timer(DEV_RUN_LIMIT_S, proc.kill)  # a hung run fails, never blocks
    watchdog.start()
    lines: list[str] = []
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line)
            if line.startswith("Running."):
                break
        out = "".join(lines)
        logs = "\n".join(f"--- {p.name}\n{p.read_text()[-1500:]}"
                         for p in sorted((tmp_path / ".cache/dev/logs").glob("*.log")))
        assert proc.poll() is None, out + logs
        assert "2 ticket(s) made, 2 classified and assigned, 2 acknowledged" in out, out + logs
        assert "email from Camille Durand" in out
        assert "phone-overheating" in out  # the French rule matched an accented subject
        # the category model trained at start, pushed, verified and loaded by the classify
        # worker, its label and confidence beside the rules
        assert "model: category hardware 0." in out and "model: category delivery 0." in out
        assert "chat from Sam Visitor" in out  # the visitor's contact reached the ticket
        assert "auto-acknowledgement sent by chat" in out
        assert "policy high" in out  # the SLA announced after classification raised the priority
        assert "Auto-Submitted: auto-replied" in out  # the email ack, as the SMTP sink received it
        console = _console_shows_the_tickets(out, logs)
        # agents' notices link to that console's ticket pages
        config = tomllib.loads((tmp_path / ".cache/dev/helpline.toml").read_text())
        assert config["notify"]["console_url"] == console
        # the password was made for this run and kept hashed in the dev cache, never in clear
        stored = (tmp_path / ".cache/dev/console/passwords.json").read_text()
        assert "argon2id" in stored
        assert not any(pw in stored for pw in _credentials(out).values())
    finally:
        watchdog.cancel()
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(60)
            except subprocess.TimeoutExpired:
                proc.kill()


def _credentials(out: str) -> dict[str, str]:
    return dict(re.findall(r"^  sign in as (\S+)\s+password (\S+)$", out, re.MULTILINE))


def _console_shows_the_tickets(out: str, logs: str) -> str:
    """Sign in to the printed console as the printed users, through its own sign-in form
    (CSRF token from the page and its cookie), and find the demo's tickets in the queue;
    the console's address."""
    import httpx

    urls = re.findall(r"^Agents' console:\s+(http://\S+)/login$", out, re.MULTILINE)
    assert len(urls) == 1, out
    creds = _credentials(out)
    assert set(creds) == {"alice", "sophie"}, out  # an agent and a supervisor
    numbers = set(re.findall(r"^  \[(HL-\d{4}-\d+)\] created", out, re.MULTILINE))
    assert len(numbers) == 2, out
    # the email about an overheating phone goes to alice's team (replacements)
    email = re.findall(r"^  \[(HL-\d{4}-\d+)\] created\s+email from", out, re.MULTILINE)
    seen = {"alice": set(email), "sophie": numbers}  # sophie is a supervisor: every ticket
    for agent_id, wanted in seen.items():
        with httpx.Client(base_url=urls[0], timeout=30) as http:
            form = http.get("/login")
            assert form.status_code == 200, form.text
            csrf = re.search(r'name="csrf" value="([^"]+)"', form.text)
            assert csrf is not None, form.text
            # a wrong password is refused: the sign-in checks the printed one
            wrong = http.post("/login", data={"csrf": csrf.group(1), "agent": agent_id,
                                              "password": "not-the-password", "next": "/queue"})
            assert wrong.status_code == 401
            signed = http.post("/login", data={"csrf": csrf.group(1), "agent": agent_id,
                                               "password": creds[agent_id], "next": "/queue"})
            assert signed.status_code == 303, (agent_id, signed.text, logs)
            path = "/queue?scope=all" if agent_id == "sophie" else "/queue"
            deadline = time.monotonic() + CONSOLE_CATCH_UP_S  # the console follows the topics
            page = http.get(path)
            while not all(n in page.text for n in wanted) and time.monotonic() < deadline:
                time.sleep(0.5)
                page = http.get(path)
            assert page.status_code == 200, page.text
            assert all(f'data-ticket="{n}"' in page.text for n in wanted), (
                agent_id, wanted, page.text)
    return str(urls[0])


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
