"""The SMTP receiver through a broker restart under load (issue #17 item 1): its readiness goes
false while it cannot write, true again by itself once the broker is back, mail is accepted
again without a restart by hand, and every mail answered 250 is on raw.email.

Before the fix the receiver's producer could die (``OutOfOrderSequenceNumber``) and answer 451
to every later mail while ``/readyz`` said ready: this test then fails at the first wait.
"""

from __future__ import annotations

import asyncio
import json
import smtplib
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path

import pytest

from runtime.kafka import KafkaCluster, free_port, running_cluster
from runtime.kafka_io import create_topics
from runtime.settings import LocalKafkaSettings
from schemas.stage import KafkaConnection
from schemas.topics import RAW_EMAIL
from tests.support.kafka import read_to_end
from tests.support.processes import REPO, helpline_env, stop, wait_until

pytestmark = pytest.mark.integration

SENDERS = 3  # concurrent SMTP clients keeping the receiver busy
WAIT_S = 90


def health(port: int) -> tuple[int, dict[str, object]]:
    """``/readyz``: (HTTP status, body); (0, {}) while the endpoint does not answer."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=3) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())
    except OSError:
        return 0, {}


def metric(port: int, name: str) -> float:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=3) as r:
        for line in r.read().decode().splitlines():
            if line.startswith(name + "{"):
                return float(line.rsplit(" ", 1)[1])
    return 0.0


@dataclass
class Load:
    """SMTP clients sending distinct mails until stopped; every reply kept."""

    port: int
    stop: threading.Event = field(default_factory=threading.Event)
    replies: dict[str, int] = field(default_factory=dict)  # subject -> last reply code
    lock: threading.Lock = field(default_factory=threading.Lock)

    def accepted(self) -> set[str]:
        with self.lock:
            return {s for s, code in self.replies.items() if code == 250}

    def run(self, who: int) -> None:
        n = 0
        while not self.stop.is_set():
            n += 1
            subject = f"restart-{who}-{n}"
            msg = EmailMessage()
            msg["From"], msg["To"], msg["Subject"] = f"c{who}@customer.test", "help@example.com", \
                subject
            msg["Message-ID"] = f"<{subject}@customer.test>"
            msg.set_content("The printer is on fire again.")
            try:
                with smtplib.SMTP("127.0.0.1", self.port, timeout=30) as c:
                    c.send_message(msg)
                code = 250
            except smtplib.SMTPDataError as e:
                code = e.smtp_code
            except (OSError, smtplib.SMTPException):
                code = 0
            with self.lock:
                self.replies[subject] = code

    @classmethod
    def start(cls, port: int) -> tuple[Load, list[threading.Thread]]:
        load = cls(port)
        threads = [threading.Thread(target=load.run, args=(i,), daemon=True)
                   for i in range(SENDERS)]
        for t in threads:
            t.start()
        return load, threads


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[KafkaCluster]:
    """A broker of this test's own: it is stopped and started again."""
    with running_cluster(LocalKafkaSettings(heap="384m"), tmp_path / "kafka",
                         root=REPO) as cluster:
        yield cluster


def test_smtp_receiver_goes_unready_and_recovers_after_a_broker_restart_under_load(
    broker: KafkaCluster, tmp_path: Path,
) -> None:
    conn = KafkaConnection(broker.bootstrap, topic_prefix="restart.")
    asyncio.run(create_topics(conn, partitions=2))
    smtp_port, http_port = free_port(), free_port()
    log = tmp_path / "smtp.log"
    proc = subprocess.Popen(
        [sys.executable, "-m", "runtime.cli", "worker", "smtp", "--instance-id", "r1"],
        cwd=REPO, stdout=subprocess.DEVNULL, stderr=log.open("wb"), env=helpline_env(conn, {
        "HELPLINE_EMAIL__RECEIVER__PORT": str(smtp_port),
        "HELPLINE_EMAIL__RECEIVER__ACCEPTED_DOMAINS": '["example.com"]',
        "HELPLINE_EMAIL__RECEIVER__PUBLISH_TIMEOUT_S": "3",
        "HELPLINE_OBSERVABILITY__HTTP_PORT": str(http_port),
        "HELPLINE_OBSERVABILITY__LOG_LEVEL": "WARNING",
    }))
    load, threads = None, []
    try:
        wait_until(lambda: health(http_port)[0] == 200, "receiver ready", WAIT_S)
        load, threads = Load.start(smtp_port)
        wait_until(lambda: len(load.accepted()) >= 30, "mail accepted before the restart",
                   WAIT_S)

        broker.kill(1)
        wait_until(lambda: health(http_port)[0] == 503,
                   "receiver reports not-ready while the broker is down", WAIT_S)
        _, body = health(http_port)
        assert body["writable"] is False and body["broker_outages"] == 1, body
        assert proc.poll() is None, "the receiver must not exit"

        broker.restart(1)
        wait_until(lambda: health(http_port)[0] == 200,
                   "receiver ready again by itself after the broker restart", WAIT_S)
        after = len(load.accepted())
        wait_until(lambda: len(load.accepted()) >= after + 30,
                   "mail accepted again after the restart", WAIT_S)
        assert metric(http_port, "helpline_broker_outages_total") >= 1
        assert metric(http_port, "helpline_broker_writable") == 1
    finally:
        if load is not None:
            load.stop.set()
        for t in threads:
            t.join(timeout=60)
        stop(proc, kill=False)

    # nothing answered 250 is missing from raw.email
    assert load is not None
    stored = {v.raw.split(b"Subject: ", 1)[1].split(b"\n", 1)[0].strip().decode()
              for v in (c.value for c in asyncio.run(read_to_end(conn, RAW_EMAIL, 60)))}
    lost = load.accepted() - stored
    assert not lost, f"{len(lost)} mails answered 250 are not on raw.email: {sorted(lost)[:5]}"
    assert proc.returncode == 0, log.read_text()[-3000:]
