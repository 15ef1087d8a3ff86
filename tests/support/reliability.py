"""The pieces of the fault suite (tests/reliability): every worker as a supervised process with
its health port, customers who write by SMTP and chat and retry as real ones do, and what the
topics and the outbound SMTP sink say at the end."""

from __future__ import annotations

import json
import random
import signal
import smtplib
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path

import httpx

from runtime.kafka import free_port
from tests.support.processes import REPO

SUPPORT = "support@example.com"


def ready(port: int) -> bool:
    """The worker's ``/readyz`` answers 200."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2) as r:
            return r.status == 200
    except (urllib.error.HTTPError, OSError):
        return False


def readiness(port: int) -> dict[str, object]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2) as r:
            return dict(json.loads(r.read()))
    except urllib.error.HTTPError as e:
        return dict(json.loads(e.read()))
    except OSError as e:
        return {"unreachable": str(e)}


@dataclass
class Worker:
    name: str
    health_port: int
    log: Path
    proc: subprocess.Popen[bytes] | None = None


@dataclass
class Fleet:
    """``helpline worker <name>`` for each name, restarted by the test when it kills one (as
    a supervisor, Kubernetes or systemd, would); nothing else is ever restarted by hand."""

    config: Path
    env: Mapping[str, str]
    log_dir: Path
    workers: dict[str, Worker] = field(default_factory=dict)

    def start(self, name: str) -> None:
        w = self.workers.get(name) or Worker(name, free_port(), self.log_dir / f"{name}.log")
        self.workers[name] = w
        with w.log.open("ab") as out:
            w.proc = subprocess.Popen(
                [sys.executable, "-m", "runtime.cli", "--config", str(self.config), "worker",
                 name, "--instance-id", f"rel-{name}"],
                cwd=REPO, env={**self.env, "HELPLINE_OBSERVABILITY__HTTP_PORT":
                               str(w.health_port)},
                stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)

    def kill9(self, name: str) -> None:
        proc = self.workers[name].proc
        assert proc is not None and proc.poll() is None, f"{name} was not running"
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)

    def ready(self, name: str) -> bool:
        w = self.workers[name]
        return w.proc is not None and w.proc.poll() is None and ready(w.health_port)

    def all_ready(self) -> bool:
        return all(self.ready(n) for n in self.workers)

    def not_ready(self) -> list[str]:
        return [n for n in self.workers if not self.ready(n)]

    def exited(self) -> dict[str, int]:
        return {n: w.proc.returncode for n, w in self.workers.items()
                if w.proc is not None and w.proc.poll() is not None}

    def stop(self) -> None:
        for w in self.workers.values():
            if w.proc is not None and w.proc.poll() is None:
                w.proc.send_signal(signal.SIGTERM)
        for w in self.workers.values():
            if w.proc is None:
                continue
            try:
                w.proc.wait(20)
            except subprocess.TimeoutExpired:
                w.proc.kill()
                w.proc.wait(5)

    def tail(self, name: str, chars: int = 2000) -> str:
        return self.workers[name].log.read_text(errors="replace")[-chars:]


@dataclass
class Customers:
    """Distinct customers writing by email (SMTP) and chat (HTTP) until stopped. Each message
    carries a marker (``ref REL-…``) in its text; a refused one (4xx/5xx, 503, no connection)
    is tried again after a pause, as an MTA and the widget do. Seeded: the same run writes the
    same messages."""

    smtp_port: int
    chat_port: int
    seed: int = 17
    pause_s: float = 1.0  # between two new messages of one writer
    retry_s: float = 1.0
    stop: threading.Event = field(default_factory=threading.Event)
    accepted: dict[str, str] = field(default_factory=dict)  # marker -> channel
    sent: Counter[str] = field(default_factory=Counter)  # attempts by channel
    refused: Counter[str] = field(default_factory=Counter)  # replies other than 250/202
    lock: threading.Lock = field(default_factory=threading.Lock)
    threads: list[threading.Thread] = field(default_factory=list)

    def start(self, mail_writers: int = 2, chat_writers: int = 1) -> None:
        for i in range(mail_writers):
            self.threads.append(threading.Thread(target=self._mail, args=(i,), daemon=True))
        for i in range(chat_writers):
            self.threads.append(threading.Thread(target=self._chat, args=(i,), daemon=True))
        for t in self.threads:
            t.start()

    def finish(self, timeout_s: float = 120) -> None:
        """Stop writing new messages; those in hand are retried until accepted."""
        self.stop.set()
        for t in self.threads:
            t.join(timeout_s)

    def _accept(self, marker: str, channel: str) -> None:
        with self.lock:
            self.accepted[marker] = channel

    def _count(self, what: Counter[str], channel: str) -> None:
        with self.lock:
            what[channel] += 1

    def _mail(self, writer: int) -> None:
        rng = random.Random(self.seed * 100 + writer)
        n = 0
        while not self.stop.is_set():
            n += 1
            marker = f"REL-E{writer}-{n:04d}"
            msg = EmailMessage()
            msg["From"] = f"Customer {marker} <{marker.lower()}@customers.example.org>"
            msg["To"] = SUPPORT
            msg["Subject"] = rng.choice(("Order not arrived", "Invoice question",
                                         "Cannot log in", "Refund please"))
            msg["Message-ID"] = f"<{marker.lower()}@customers.example.org>"
            msg.set_content(f"Hello, {rng.choice(('my parcel', 'my account', 'my bill'))} "
                            f"needs help. ref {marker}\n")
            while True:  # an MTA keeps the mail and retries
                self._count(self.sent, "email")
                try:
                    with smtplib.SMTP("127.0.0.1", self.smtp_port, timeout=30) as c:
                        c.send_message(msg)
                    self._accept(marker, "email")
                    break
                except (OSError, smtplib.SMTPException):
                    self._count(self.refused, "email")
                    time.sleep(self.retry_s)
            time.sleep(self.pause_s)

    def _chat(self, writer: int) -> None:
        base = f"http://127.0.0.1:{self.chat_port}/v1/sites/demo"
        origin = {"Origin": f"http://127.0.0.1:{self.chat_port}"}
        n = 0
        with httpx.Client(timeout=30) as http:
            while not self.stop.is_set():
                n += 1
                marker = f"REL-C{writer}-{n:04d}"
                conv: dict[str, str] | None = None
                while True:
                    self._count(self.sent, "chat")
                    try:
                        if conv is None:
                            r = http.post(f"{base}/conversations", headers=origin, json={
                                "name": f"Visitor {marker}",
                                "email": f"{marker.lower()}@visitors.example.net",
                                "locale": "en"})
                            r.raise_for_status()
                            conv = r.json()
                        assert conv is not None
                        r = http.post(
                            f"{base}/conversations/{conv['conversation_id']}/messages",
                            headers={**origin,
                                     "Authorization": f"Bearer {conv['visitor_token']}"},
                            json={"message_id": marker.lower(), "text": f"Hi, ref {marker}",
                                  "name": f"Visitor {marker}",
                                  "email": f"{marker.lower()}@visitors.example.net",
                                  "locale": "en"})
                        r.raise_for_status()
                        self._accept(marker, "chat")
                        break
                    except (httpx.HTTPError, ValueError, KeyError):
                        self._count(self.refused, "chat")
                        time.sleep(self.retry_s)
                time.sleep(self.pause_s * 2)


def marker_of(text: str) -> str | None:
    at = text.find("ref REL-")
    if at < 0:
        return None
    return text[at + 4:].split()[0].strip(".,")
