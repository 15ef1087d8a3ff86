"""Acks delivered per second to a local SMTP server (aiosmtpd on loopback), the notify stage
vs a bare aiosmtplib send loop, in the same run. Prints one JSON object.

The stage path is the whole thing per ack: fold the ticket's events, loop guard, caps, render
(fr/en templates, text + HTML), threading headers with the signed reply token, sent-log intent
and final records (in-memory journal: the broker is not what is measured here), SMTP through
the pool, result + ack-sent records. The baseline sends pre-built messages over one connection.

    .venv/bin/python benchmarks/bench_notify.py [--acks 400] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path

import aiosmtplib
import orjson

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from notify.sentlog import MemoryJournal
from notify.settings import SmtpSettings
from notify.smtp import SmtpPool
from notify.stage import build
from tests.support.notify_builders import KEY, created, message, records, settings, sla
from tests.support.notify_sink import free_port

MAX_SECONDS = 60.0


@contextlib.contextmanager
def smtp_server() -> Iterator[int]:
    """aiosmtpd's own server (discarding Sink handler) in its own process, as a real relay
    would be: in a thread of this process it would share our GIL and skew both figures."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "aiosmtpd", "-n", "-c", "aiosmtpd.handlers.Sink",
         "-l", f"127.0.0.1:{port}"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 1):
                break
            time.sleep(0.05)
        yield port
    finally:
        proc.terminate()
        proc.wait(10)


async def bare_loop(port: int, n: int) -> float:
    msgs = []
    for i in range(n):
        m = EmailMessage()
        m["From"], m["To"] = "support@acme.test", f"c{i}@example.com"
        m["Subject"], m["Message-ID"] = f"We received your request [HL-{i}]", f"<b{i}@acme.test>"
        m.set_content("Thank you for contacting ACME Support. " * 10)
        msgs.append(m)
    smtp = aiosmtplib.SMTP(hostname="127.0.0.1", port=port, start_tls=False)
    await smtp.connect()
    started = time.perf_counter()
    for m in msgs:
        await smtp.send_message(m)
    elapsed = time.perf_counter() - started
    await smtp.quit()
    return n / elapsed


async def stage_run(port: int, n: int, pool: int, batch: int, round_no: int) -> float:
    cfg = settings(smtp=SmtpSettings(port=port, pool_size=pool), send_concurrency=pool,
                   recipient_cap=10)
    stage = build(cfg, transport=SmtpPool(cfg.smtp), webhooks=None, journal=MemoryJournal(),
                  signing_key=KEY)
    now = datetime.now(UTC)
    events = []
    for i in range(n):
        tid = f"r{round_no}t{i:06d}"
        events += [created(tid, requester=f"c{i}@example.com", at=now),
                   message(tid, author=f"c{i}@example.com", at=now, mid=f"<r{round_no}i{i}@x>",
                           text="Bonjour, mon imprimante fume. " * 10),
                   sla(tid, now + timedelta(hours=4), at=now)]
    batches = [records(events[i:i + batch]) for i in range(0, len(events), batch)]
    started = time.perf_counter()
    for b in batches:
        await stage.process(b, now)
    elapsed = time.perf_counter() - started
    await stage.dispatch.close()
    return n / elapsed


async def main(acks: int, rounds: int) -> dict[str, object]:
    bare: list[float] = []
    ours_1: list[float] = []
    ours_4: list[float] = []
    deadline = time.monotonic() + MAX_SECONDS
    with smtp_server() as port:
        await bare_loop(port, 20)  # warm-up
        await stage_run(port, 20, 1, 60, -1)
        for r in range(rounds):
            if time.monotonic() > deadline:
                break
            bare.append(await bare_loop(port, acks))
            ours_1.append(await stage_run(port, acks, 1, 300, r * 2))
            ours_4.append(await stage_run(port, acks, 4, 300, r * 2 + 1))
    best_bare, best_1, best_4 = max(bare), max(ours_1), max(ours_4)
    return {
        "benchmark": "notify acks delivered per second to local aiosmtpd",
        "acks_per_round": acks,
        "rounds": len(bare),
        "baseline_bare_aiosmtplib_loop_per_s": round(best_bare, 1),
        "stage_one_connection_per_s": round(best_1, 1),
        "stage_pool4_per_s": round(best_4, 1),
        "ratio_one_connection": round(best_1 / best_bare, 3),
        "ratio_pool4": round(best_4 / best_bare, 3),
        "target_ratio": 0.7,
        "all_rounds": {"bare": [round(x, 1) for x in bare],
                       "stage_1": [round(x, 1) for x in ours_1],
                       "stage_4": [round(x, 1) for x in ours_4]},
    }


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--acks", type=int, default=400)
    p.add_argument("--rounds", type=int, default=3)
    a = p.parse_args()
    print(orjson.dumps(asyncio.run(main(min(a.acks, 5000), min(a.rounds, 10)))).decode())
