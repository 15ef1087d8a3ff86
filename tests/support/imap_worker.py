"""Run the IMAP connector as its own process, for kill -9 tests and the benchmark.

    python -m tests.support.imap_worker CONFIG.toml BOOTSTRAP TOPIC_PREFIX

Builds what ``helpline worker imap`` would (settings from the TOML file only, a KafkaPublisher)
and runs ``ingest.imap_service.run`` until SIGTERM/SIGINT. Replace with ``helpline worker imap``
once the runtime CLI runs services.
"""

from __future__ import annotations

import asyncio
import signal
import sys

from ingest import imap_service
from runtime.kafka_io import KafkaPublisher
from runtime.settings import load_settings
from schemas.stage import KafkaConnection, StageContext


async def main(config: str, bootstrap: str, prefix: str) -> None:
    settings = load_settings(config, env={})
    conn = KafkaConnection(bootstrap_servers=bootstrap, topic_prefix=prefix)
    ctx = StageContext(kafka=conn, sections=settings, signing_key=settings.signing_key)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with KafkaPublisher(conn) as publisher:
        await imap_service.run(ctx, publisher, stop)


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:4]))
