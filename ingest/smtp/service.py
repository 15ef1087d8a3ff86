"""``helpline worker smtp``: the inbound SMTP/LMTP receiver, publishing to raw.email."""

from __future__ import annotations

import asyncio
import logging

from ingest.settings import EmailSettings
from ingest.smtp.receiver import start_receiver
from schemas.clock import utcnow
from schemas.stage import Connector, Publisher, StageContext

log = logging.getLogger(__name__)


async def run(ctx: StageContext, publisher: Publisher, stop: asyncio.Event) -> None:
    settings: EmailSettings = ctx.section("email")
    receiver = settings.receiver
    server = await start_receiver(receiver, publisher, utcnow, ctx.meter)
    bound = [s.getsockname() for s in server.sockets]
    log.info("smtp receiver listening", extra={
        "address": [f"{a[0]}:{a[1]}" for a in bound], "lmtp": receiver.lmtp})
    try:
        await stop.wait()
    finally:
        server.close()
        # sessions in DATA finish their publish and reply before the socket goes away
        try:
            await asyncio.wait_for(server.wait_closed(), timeout=settings.shutdown_timeout_s)
        except TimeoutError:
            log.warning("smtp sessions still open at shutdown")
    log.info("smtp receiver stopped")


CONNECTOR = Connector(run)  # what `helpline worker smtp` runs (runtime.workers)
