"""``helpline worker imap``: watch every configured mailbox folder and put new mail on raw.email.

One asyncio task and one thread per (mailbox, folder); each is independent, so a mailbox whose
server is down or whose password expired does not delay the others. The runtime can read the
per-folder state (for /health and metrics) from :data:`STATUS` or pass its own board.
"""

from __future__ import annotations

import asyncio
import logging

from ingest.imap.auth import credentials_for
from ingest.imap.connector import FolderWatcher
from ingest.imap.session import ImapSession
from ingest.imap.status import StatusBoard
from ingest.imap.store import (
    CheckpointLock,
    CheckpointStore,
    FileCheckpointStore,
    FileMessageIdLog,
    MessageIdLog,
)
from ingest.settings import EmailSettings
from schemas.clock import Clock, utcnow
from schemas.stage import Connector, Publisher, StageContext

log = logging.getLogger(__name__)

STATUS = StatusBoard()


def build_watchers(
    settings: EmailSettings,
    publisher: Publisher,
    status: StatusBoard,
    store: CheckpointStore,
    clock: Clock = utcnow,
    message_ids: MessageIdLog | None = None,
) -> list[FolderWatcher]:
    watchers = []
    for mailbox in settings.mailboxes:
        checkpoints = CheckpointLock(store)
        credentials = credentials_for(mailbox)
        for folder in mailbox.folders:
            session = ImapSession(mailbox, credentials)
            watchers.append(FolderWatcher(
                mailbox, folder, session, publisher, checkpoints, status, clock,
                message_ids=message_ids,
            ))
    return watchers


async def run(
    ctx: StageContext,
    publisher: Publisher,
    stop: asyncio.Event,
    status: StatusBoard | None = None,
) -> None:
    settings: EmailSettings = ctx.section("email")
    await run_mailboxes(settings, publisher, stop, status or STATUS)


# what `helpline worker imap` runs (runtime.workers); its board says not ready while a mailbox
# needs re-auth
CONNECTOR = Connector(run, STATUS)


async def run_mailboxes(
    settings: EmailSettings,
    publisher: Publisher,
    stop: asyncio.Event,
    status: StatusBoard,
    store: CheckpointStore | None = None,
) -> None:
    store = store or FileCheckpointStore(settings.checkpoint_dir)
    message_ids = (FileMessageIdLog(settings.checkpoint_dir, settings.remembered_message_ids)
                   if settings.remembered_message_ids else None)
    watchers = build_watchers(settings, publisher, status, store, message_ids=message_ids)
    if not watchers:
        log.warning("no IMAP mailboxes configured ([email] mailboxes); nothing to watch")
    log.info("imap connector started", extra={
        "mailboxes": len(settings.mailboxes), "folders": len(watchers)})
    tasks = [asyncio.create_task(w.run(stop), name=f"imap:{w.mailbox.name}:{w.folder}")
             for w in watchers]
    try:
        await stop.wait()
        _, pending = await asyncio.wait(tasks, timeout=settings.shutdown_timeout_s)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
    finally:
        for task in tasks:
            task.cancel()
    log.info("imap connector stopped")
