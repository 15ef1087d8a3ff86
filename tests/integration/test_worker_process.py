"""`helpline worker` as an SRE runs it: a real process on the real broker that moves records,
answers /healthz, /readyz and /metrics, and stops cleanly on SIGTERM; `helpline replay` puts a
dead letter back once its cause is fixed."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from runtime.commands import replay_dead_letters
from runtime.kafka import free_port
from schemas.raw import RawEmail
from schemas.stage import KafkaConnection
from schemas.topics import BY_NAME, MESSAGES, RAW_EMAIL
from tests.support.kafka import produce, produce_raw, read_topic

pytestmark = pytest.mark.integration

MAIL = (b"From: Ada <ada@example.org>\r\nTo: support@example.com\r\nSubject: Printer on fire\r\n"
        b"Message-ID: <w1@example.org>\r\n\r\nIt is smoking.\r\n")


def _env(conn: KafkaConnection, port: int, tmp: Path) -> dict[str, str]:
    return {"PATH": "/usr/bin:/bin", "HOME": str(tmp),
            "HELPLINE_KAFKA__BOOTSTRAP_SERVERS": conn.bootstrap_servers,
            "HELPLINE_KAFKA__TOPIC_PREFIX": conn.topic_prefix,
            "HELPLINE_OBSERVABILITY__HTTP_PORT": str(port)}


def _get(url: str, deadline: float) -> httpx.Response:
    while True:
        try:
            return httpx.get(url, timeout=2)
        except httpx.TransportError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def test_worker_moves_records_reports_health_and_stops_on_sigterm(
    kafka_conn: KafkaConnection, tmp_path: Path
) -> None:
    port = free_port()
    worker = subprocess.Popen(
        [sys.executable, "-m", "runtime.cli", "worker", "normalize", "--instance-id", "t1"],
        env=_env(kafka_conn, port, tmp_path), cwd=tmp_path,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        raw = RawEmail(source="smtp", mailbox="support", raw=MAIL,
                       received_at=datetime(2026, 5, 1, tzinfo=UTC))
        asyncio.run(produce(kafka_conn, RAW_EMAIL, [(b"support", raw)]))
        msgs = asyncio.run(read_topic(kafka_conn, MESSAGES, expect=1, timeout_s=60))
        assert msgs[0].value.subject == "Printer on fire"

        deadline = time.monotonic() + 30
        assert _get(f"http://127.0.0.1:{port}/healthz", deadline).status_code == 200
        ready = _get(f"http://127.0.0.1:{port}/readyz", deadline)
        assert ready.status_code == 200 and ready.json()["ready"] is True
        metrics = _get(f"http://127.0.0.1:{port}/metrics", deadline).text
        assert 'helpline_records_in_total{stage="normalize",topic="raw.email"} 1.0' in metrics
        assert 'helpline_records_out_total{stage="normalize",topic="messages"} 1.0' in metrics
    finally:
        worker.send_signal(signal.SIGTERM)
        out, _ = worker.communicate(timeout=30)
    assert worker.returncode == 0, out.decode(errors="replace")[-2000:]


def test_replay_puts_dead_letters_back_on_their_topic(kafka_conn: KafkaConnection) -> None:
    dlq = BY_NAME["dlq.normalize"]

    async def go() -> None:
        # A record the normalize stage cannot decode lands in its dead-letter topic ...
        from runtime.runner import StageRunner
        from runtime.settings import RunnerSettings, Settings
        from runtime.workers import STAGES, load
        from schemas.stage import StageContext

        await produce_raw(kafka_conn, RAW_EMAIL, [(b"support", b'{"source": "imap"}')])
        ctx = StageContext(kafka=kafka_conn, sections=Settings(), signing_key=b"k")
        runner = StageRunner(load(STAGES["normalize"])(ctx), kafka_conn,
                             RunnerSettings(batch_timeout_ms=20))
        stop = asyncio.Event()
        task = asyncio.create_task(runner.run(stop))
        letters = await read_topic(kafka_conn, dlq, expect=1, timeout_s=60)
        stop.set()
        await task
        assert letters[0].value.value == b'{"source": "imap"}'
        # ... and replay republishes the original bytes to raw.email, once.
        assert await replay_dead_letters(kafka_conn, "dlq.normalize", 100, dry_run=False) == 1
        assert await replay_dead_letters(kafka_conn, "dlq.normalize", 100, dry_run=False) == 0
        raw = await read_topic(kafka_conn, RAW_EMAIL, expect=2, decode_values=False)
        assert [r.raw for r in raw] == [b'{"source": "imap"}'] * 2

    asyncio.run(go())


def test_replay_dry_run_lists_and_limit_bounds_what_goes_back(
    kafka_conn: KafkaConnection, capsys: pytest.CaptureFixture[str]
) -> None:
    from schemas.deadletter import DeadLetter

    dlq = BY_NAME["dlq.normalize"]
    letters = [DeadLetter(stage="normalize", source_topic="raw.email", key=b"support",
                          value=f"bad {i}".encode(), error_type="DecodeError",
                          error=f"broken {i}\nmore", failed_at=datetime(2026, 5, 1, tzinfo=UTC))
               for i in range(3)]

    async def go() -> None:
        await produce(kafka_conn, dlq, [(b"support", d) for d in letters])
        # a dry run lists and commits nothing ...
        assert await replay_dead_letters(kafka_conn, dlq.name, 100, dry_run=True) == 3
        listed = capsys.readouterr().out.splitlines()
        assert listed == [f"{i}: raw.email DecodeError: broken {i}" for i in range(3)]
        # ... so the real one replays all, --limit at a time, each once
        assert await replay_dead_letters(kafka_conn, dlq.name, 2, dry_run=False) == 2
        assert await replay_dead_letters(kafka_conn, dlq.name, 2, dry_run=False) == 1
        assert await replay_dead_letters(kafka_conn, dlq.name, 2, dry_run=False) == 0
        raw = await read_topic(kafka_conn, RAW_EMAIL, expect=3, decode_values=False)
        assert sorted(r.raw for r in raw) == [b"bad 0", b"bad 1", b"bad 2"]

    asyncio.run(go())
