"""The notify worker as its own process, for the kill -9 test: the real stage, the real runner
on the real broker, the real SMTP pool pointed at the test's sink.

    python -m tests.support.notify_worker BOOTSTRAP TOPIC_PREFIX SMTP_PORT
"""

from __future__ import annotations

import asyncio
import signal
import sys

from notify.sentlog import KafkaJournal
from notify.settings import SmtpSettings
from notify.smtp import SmtpPool
from notify.stage import build
from runtime.runner import StageRunner
from runtime.settings import RunnerSettings
from schemas.stage import KafkaConnection
from tests.support.notify_builders import KEY, settings


async def main(bootstrap: str, prefix: str, smtp_port: int) -> None:
    conn = KafkaConnection(bootstrap_servers=bootstrap, topic_prefix=prefix)
    cfg = settings(smtp=SmtpSettings(port=smtp_port, pool_size=2, timeout_s=10),
                   send_concurrency=2, sla_wait_s=1.0, tick_interval_s=0.2)
    stage = build(cfg, transport=SmtpPool(cfg.smtp), webhooks=None,
                  journal=KafkaJournal(conn, linger_ms=0, timeout_s=30), signing_key=KEY)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    runner = StageRunner(stage, conn, RunnerSettings(batch_max_records=50, batch_timeout_ms=20))
    try:
        await runner.run(stop)
    finally:
        await stage.drain()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3])))
