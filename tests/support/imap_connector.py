"""Helpers for IMAP connector integration tests and benchmarks: config files, a connector run
in-process or as a subprocess, and waiting for raw.email to hold what was appended."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from ingest.imap.service import run_mailboxes
from ingest.imap.status import StatusBoard
from ingest.settings import EmailSettings, MailboxSettings
from runtime.kafka_io import KafkaPublisher
from schemas.stage import KafkaConnection
from schemas.topics import RAW_EMAIL
from tests.support.dovecot import Dovecot
from tests.support.kafka import Consumed, read_topic

REPO = Path(__file__).resolve().parents[2]


def mailbox_for(dovecot: Dovecot, user: str = "support", **kw: Any) -> MailboxSettings:
    base: dict[str, Any] = dict(
        name=user, host=dovecot.host, port=dovecot.port, security="none", user=user,
        password=dovecot.users[user], reconnect_backoff_initial_s=0.2,
        reconnect_backoff_max_s=1.0, idle_check_interval_s=0.2, fetch_batch_size=50,
    )
    return MailboxSettings(**{**base, **kw})


def email_settings(checkpoint_dir: Path, *mailboxes: MailboxSettings) -> EmailSettings:
    return EmailSettings(mailboxes=mailboxes, checkpoint_dir=str(checkpoint_dir),
                         shutdown_timeout_s=5)


def write_config(
    path: Path, settings: EmailSettings, conn: KafkaConnection | None = None
) -> Path:
    """A helpline config file with this [email] section, as an operator would write it."""
    lines = []
    if conn is not None:
        lines += ["[kafka]", f"bootstrap_servers = {_toml(conn.bootstrap_servers)}",
                  f"topic_prefix = {_toml(conn.topic_prefix)}", ""]
    lines += ["[email]", f"checkpoint_store = {_toml(settings.checkpoint_store)}",
              f"checkpoint_dir = {_toml(settings.checkpoint_dir)}",
              f"shutdown_timeout_s = {settings.shutdown_timeout_s}", ""]
    for m in settings.mailboxes:
        lines += ["[[email.mailboxes]]"]
        for key, value in m.model_dump(exclude_none=True).items():
            if key == "password":
                value = m.password.get_secret_value() if m.password else ""
            lines.append(f"{key} = {_toml(value)}")
        lines.append("")
    path.write_text("\n".join(lines))
    return path


def _toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'


@asynccontextmanager
async def connector_running(
    conn: KafkaConnection, settings: EmailSettings, status: StatusBoard | None = None
) -> AsyncIterator[StatusBoard]:
    status = status or StatusBoard()
    stop = asyncio.Event()
    async with KafkaPublisher(conn) as publisher:
        task = asyncio.create_task(run_mailboxes(settings, publisher, stop, status))
        try:
            yield status
        finally:
            stop.set()
            await asyncio.wait_for(task, 20)


async def wait_for_state(status: StatusBoard, mailbox: str, folder: str, state: str,
                         timeout_s: float = 20.0) -> None:
    deadline = time.monotonic() + timeout_s
    while status.get(mailbox, folder).state != state:
        if time.monotonic() > deadline:
            raise AssertionError(f"{mailbox}/{folder} never {state}: {status.get(mailbox, folder)}")
        await asyncio.sleep(0.05)


async def raw_records(conn: KafkaConnection, expect: int, timeout_s: float = 60.0) -> list[Any]:
    got: list[Consumed] = await read_topic(conn, RAW_EMAIL, expect=expect, timeout_s=timeout_s)
    return [c.value for c in got]


class ConnectorProcess:
    """``helpline --config FILE worker imap`` (or another worker) as its own process (config
    file only: the test's own HELPLINE_* environment is not passed on)."""

    def __init__(self, config: Path, log: Path, worker: str = "imap") -> None:
        self.args = [sys.executable, "-m", "runtime.cli", "--config", str(config),
                     "worker", worker]
        self.log = log
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("HELPLINE_")}
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(self.args, cwd=REPO, stdout=out, stderr=out,
                                         env={**env, "PYTHONUNBUFFERED": "1"})

    def terminate(self) -> int:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=30)

    def kill9(self) -> None:
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait(timeout=30)

    def ensure_stopped(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=30)
