"""The IMAP connector's shell: one :class:`FolderWatcher` per (mailbox, folder), each an asyncio
task driving a blocking IMAP session on its own thread.

The loop, read top to bottom: connect → select → plan from the checkpoint → fetch the new UIDs
in batches → publish each raw message and wait for Kafka's ack → (move) → save the checkpoint
→ IDLE (or sleep a poll interval) → again. Failures become states on the status board and a
backoff, never a crash: a mailbox with a wrong password does not stop the others.
"""

from __future__ import annotations

import asyncio
import logging
import random
import threading
from collections import deque
from collections.abc import AsyncIterator, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from ingest.imap.checkpoint import (
    FolderCheckpoint,
    advance,
    backoff_delay,
    batches,
    batches_by_size,
    message_id_key,
    plan_sync,
    uids_after,
)
from ingest.imap.session import AuthRejected, FetchedMail, ImapFailure, MailSession
from ingest.imap.status import FolderState, StatusBoard
from ingest.imap.store import CheckpointLock, MessageIdLog
from ingest.settings import MailboxSettings
from schemas.clock import Clock
from schemas.errors import HelplineError
from schemas.raw import RawEmail
from schemas.stage import Publisher
from schemas.topics import RAW_EMAIL

log = logging.getLogger(__name__)

T = TypeVar("T")
# Message sizes are asked for this many FETCH batches' worth of UIDs at a time.
SIZE_STRETCH_BATCHES = 10


class PublishFailed(HelplineError):
    """Kafka did not acknowledge some raw messages; the checkpoint stopped before them."""

    retriable = True


class FolderWatcher:
    def __init__(
        self,
        mailbox: MailboxSettings,
        folder: str,
        session: MailSession,
        publisher: Publisher,
        checkpoints: CheckpointLock,
        status: StatusBoard,
        clock: Clock,
        jitter: Callable[[], float] = random.random,
        message_ids: MessageIdLog | None = None,
    ) -> None:
        self.mailbox = mailbox
        self.folder = folder
        self.session = session
        self.publisher = publisher
        self.checkpoints = checkpoints
        self.status = status
        self.clock = clock
        self.jitter = jitter
        self.message_ids = message_ids
        self._thread_stop = threading.Event()
        self._executor = ThreadPoolExecutor(1, thread_name_prefix=f"imap-{mailbox.name}")
        self._key = mailbox.name.encode()
        # UIDs Kafka acknowledged above the checkpoint (a message before them failed): not
        # published again when the batch is retried. Lost on restart, which is still safe.
        self._acked_ahead: tuple[int, set[int]] = (0, set())
        # How often Kafka refused a message while accepting others beside it: a message it
        # keeps refusing (e.g. over the topic's size limit) must not block the folder forever.
        self._strikes: dict[tuple[int, int], int] = {}
        self._skipped: set[int] = set()  # resync: already on Kafka, not acknowledged now

    # -- the outer loop: connect, serve, back off ---------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        mirror = asyncio.create_task(self._mirror_stop(stop))
        attempt = 0
        try:
            while not stop.is_set():
                try:
                    await self._call(self.session.connect)
                    attempt = 0
                    await self._serve(stop)
                except AuthRejected as exc:
                    self._state("auth_failed", str(exc))
                    log.error("imap login rejected", extra=self._log_extra(error=str(exc)))
                    await self._sleep(stop, self.mailbox.auth_retry_interval_s)
                except (ImapFailure, PublishFailed, OSError) as exc:
                    await self._back_off(stop, attempt, str(exc))
                    attempt += 1
                except Exception as exc:  # a bug must not take the other mailboxes down
                    log.exception("imap watcher failed", extra=self._log_extra())
                    await self._back_off(stop, attempt, f"{type(exc).__name__}: {exc}")
                    attempt += 1
                finally:
                    await self._call(self.session.close)
        finally:
            mirror.cancel()
            self._state("stopped")
            self._executor.shutdown(wait=False, cancel_futures=True)

    async def _serve(self, stop: asyncio.Event) -> None:
        m = self.mailbox
        idle = m.use_idle and self.session.supports_idle
        self.status.update(m.name, self.folder, idle_supported=self.session.supports_idle)
        while not stop.is_set():
            self._state("syncing")
            await self.sync_once()
            if stop.is_set():
                return
            if idle:
                self._state("idle")
                await self._call(
                    self.session.wait_for_mail,
                    self._thread_stop, m.idle_timeout_s, m.idle_check_interval_s,
                )
            else:
                self._state("polling")
                await self._sleep(stop, m.poll_interval_s)

    # -- one pass over the folder --------------------------------------------------------------

    async def sync_once(self) -> int:
        """Ingest everything above the checkpoint. Returns how many messages were published."""
        m = self.mailbox
        info = await self._call(self.session.select, self.folder, m.move_to is None)
        stored = (await asyncio.to_thread(self.checkpoints.store.load, m.name)).get(self.folder)
        plan = plan_sync(stored, info.uidvalidity, info.uidnext, m.initial_sync)
        if plan.resync:
            assert stored is not None
            log.warning("imap UIDVALIDITY changed, full resync of the folder",
                        extra=self._log_extra(old=stored.uidvalidity, new=info.uidvalidity))
            self.status.update(m.name, self.folder,
                               resyncs=self.status.get(m.name, self.folder).resyncs + 1)
        if plan.checkpoint != stored:
            await self.checkpoints.commit(m.name, self.folder, plan.checkpoint)
        found = await self._call(self.session.search_after, plan.after_uid)
        todo = uids_after(found, plan.after_uid)
        checkpoint = plan.checkpoint
        if checkpoint.resync_below is not None and todo:
            checkpoint = await self._skip_published(todo, checkpoint)
        # Pipelined: while Kafka acknowledges one batch, the next is fetched. Batches are
        # settled strictly in UID order, so the checkpoint only ever covers a gap-free prefix.
        sync = _FolderSync(self, checkpoint)
        in_flight: deque[tuple[list[int], list[FetchedMail], asyncio.Task[Any]]] = deque()
        try:
            async for batch in self._batches(todo):
                if sync.error is not None:
                    break  # retried after a backoff; what is in flight is still settled
                ahead = self._ahead(checkpoint.uidvalidity)
                wanted = [u for u in batch if u not in ahead]
                mails = await self._call(self.session.fetch, wanted) if wanted else []
                fresh = [mail for mail in mails if mail.uid not in ahead]
                task = asyncio.create_task(self._publish(fresh, checkpoint.uidvalidity))
                in_flight.append((batch, mails, task))
                while in_flight and (in_flight[0][2].done()
                                     or len(in_flight) > m.max_batches_in_flight):
                    await sync.settle(*in_flight.popleft())
                    if not in_flight or sync.unsaved >= m.checkpoint_every_batches:
                        await sync.save_soon()  # the fsync runs beside the next FETCH
        finally:
            # also when fetching failed: what Kafka acknowledged still advances the checkpoint
            try:
                while in_flight:
                    await sync.settle(*in_flight.popleft())
                await sync.save()
            finally:
                for _, _, task in in_flight:
                    task.cancel()
        self._record_progress(sync.checkpoint, 0)
        if sync.error is not None:
            raise PublishFailed(sync.error)
        return sync.published

    async def _batches(self, todo: list[int]) -> AsyncIterator[list[int]]:
        """FETCH batches bounded in count and in bytes. Sizes come from the server's index
        (RFC822.SIZE, no body read), a stretch of UIDs at a time, the first one short so the
        first FETCH starts soon; a single new mail (the IDLE case) needs none."""
        m = self.mailbox
        if len(todo) == 1:
            yield todo
            return
        first = todo[:m.fetch_batch_size]
        rest = batches(todo[m.fetch_batch_size:], m.fetch_batch_size * SIZE_STRETCH_BATCHES)
        for stretch in (first, *rest):
            sizes = await self._call(self.session.fetch_sizes, stretch)
            for batch in batches_by_size(stretch, sizes, m.fetch_batch_size,
                                         m.fetch_batch_bytes):
                yield batch

    async def _skip_published(
        self, todo: list[int], checkpoint: FolderCheckpoint
    ) -> FolderCheckpoint:
        """During a resync, mark mail whose Message-ID this folder already published (found
        with a header-only FETCH) as done without fetching or publishing it again; the
        checkpoint moves over a leading run of such mail at once."""
        if self.message_ids is None:
            return checkpoint
        m = self.mailbox
        known = await asyncio.to_thread(self.message_ids.load, m.name, self.folder)
        if not known:
            return checkpoint
        candidates = [u for u in todo if checkpoint.resyncing(u)]
        skipped: set[int] = set()
        for batch in batches(candidates, m.fetch_batch_size * 5):
            keys = await self._call(self.session.fetch_message_ids, batch)
            skipped.update(u for u, key in keys.items() if key is not None and key in known)
        self._ahead(checkpoint.uidvalidity).update(skipped)
        self._skipped = skipped
        new = advance(checkpoint, todo, skipped)
        if new != checkpoint:
            await self.checkpoints.commit(m.name, self.folder, new)
        current = self.status.get(m.name, self.folder)
        self.status.update(m.name, self.folder,
                           resync_skipped=current.resync_skipped + len(skipped))
        log.info("imap resync: already published mail skipped",
                 extra=self._log_extra(skipped=len(skipped), remaining=len(todo) - len(skipped)))
        return new

    async def _publish(
        self, mails: Sequence[FetchedMail], uidvalidity: int
    ) -> tuple[set[int], str | None]:
        now = self.clock()
        records = [
            RawEmail(
                source="imap",
                mailbox=self.mailbox.name,
                raw=mail.raw,
                received_at=mail.internal_date or now,
                folder=self.folder,
                uidvalidity=uidvalidity,
                uid=mail.uid,
            )
            for mail in mails
        ]
        results = await self.publisher.publish_many(
            RAW_EMAIL, [(self._key, r) for r in records])
        acked = {m.uid for m, res in zip(mails, results, strict=True) if res is None}
        errors = [r for r in results if isinstance(r, BaseException)]
        if not errors:
            return acked, None
        first = errors[0]
        if isinstance(first, asyncio.CancelledError):
            raise first
        return acked, f"Kafka did not acknowledge {len(errors)} raw message(s): {first}"

    def _quarantine_refused(
        self, tried: Sequence[FetchedMail], acked: set[int], uidvalidity: int, error: str
    ) -> str | None:
        """Count a strike against each message Kafka refused while taking its neighbours.

        After ``max_publish_attempts`` strikes the message is left on the server, untouched,
        and reported (status ``quarantined``, an ERROR log with its UID and size) instead of
        holding up every later mail. Returns the error if some refused message remains.
        """
        remaining = False
        for mail in tried:
            if mail.uid in acked:
                continue
            key = (uidvalidity, mail.uid)
            self._strikes[key] = self._strikes.get(key, 0) + 1
            if self._strikes[key] < self.mailbox.max_publish_attempts:
                remaining = True
                continue
            del self._strikes[key]
            self._ahead(uidvalidity).add(mail.uid)
            current = self.status.get(self.mailbox.name, self.folder)
            self.status.update(self.mailbox.name, self.folder,
                               quarantined=current.quarantined + 1, detail=error)
            log.error("kafka keeps refusing a message; left on the server, not ingested",
                      extra=self._log_extra(uidvalidity=uidvalidity, uid=mail.uid,
                                            size=len(mail.raw), error=error))
        return error if remaining else None

    def _ahead(self, uidvalidity: int) -> set[int]:
        if self._acked_ahead[0] != uidvalidity:
            self._acked_ahead = (uidvalidity, set())
        return self._acked_ahead[1]

    # -- plumbing ------------------------------------------------------------------------------

    async def _call(self, fn: Callable[..., T], *args: Any) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, fn, *args)

    async def _mirror_stop(self, stop: asyncio.Event) -> None:
        await stop.wait()
        self._thread_stop.set()

    async def _back_off(self, stop: asyncio.Event, attempt: int, detail: str) -> None:
        m = self.mailbox
        delay = backoff_delay(attempt, m.reconnect_backoff_initial_s, m.reconnect_backoff_max_s,
                              self.jitter())
        self._state("reconnecting", detail)
        log.warning("imap connection problem, reconnecting",
                    extra=self._log_extra(error=detail, delay_s=round(delay, 2)))
        await self._sleep(stop, delay)

    @staticmethod
    async def _sleep(stop: asyncio.Event, seconds: float) -> None:
        try:
            await asyncio.wait_for(stop.wait(), timeout=seconds)
        except TimeoutError:
            pass

    def _state(self, state: FolderState, detail: str = "") -> None:
        self.status.transition(self.mailbox.name, self.folder, state, self.clock(), detail)

    def _record_progress(self, checkpoint: FolderCheckpoint, ingested: int) -> None:
        current = self.status.get(self.mailbox.name, self.folder)
        changes: dict[str, Any] = {
            "uidvalidity": checkpoint.uidvalidity, "last_uid": checkpoint.last_uid,
        }
        if ingested:
            changes.update(ingested=current.ingested + ingested, last_ingest_at=self.clock())
        self.status.update(self.mailbox.name, self.folder, **changes)

    def _log_extra(self, **fields: Any) -> dict[str, Any]:
        return {"mailbox": self.mailbox.name, "folder": self.folder, **fields}


class _FolderSync:
    """The settling half of one sync pass: acknowledged batches advance the checkpoint in
    order; after the first batch with an unacknowledged message, later batches only record
    what Kafka took (so a retry does not publish it twice). :meth:`save` makes the progress
    durable (Message-ID fingerprints first, then the checkpoint); :meth:`save_soon` does it
    in the background, one save at a time. A checkpoint that lags behind Kafka only means a
    few messages republished after a crash: see :func:`replay_bound_batches`."""

    def __init__(self, watcher: FolderWatcher, checkpoint: FolderCheckpoint) -> None:
        self.w = watcher
        self.checkpoint = checkpoint
        self.saved = checkpoint
        self.keys: list[bytes] = []
        self.unsaved = 0
        self.published = 0
        self.error: str | None = None
        self._saving: asyncio.Task[None] | None = None

    async def settle(
        self, batch: list[int], mails: list[FetchedMail], task: asyncio.Task[Any]
    ) -> None:
        w, m = self.w, self.w.mailbox
        acked, error = await task
        uidvalidity = self.checkpoint.uidvalidity
        ahead = w._ahead(uidvalidity)
        fresh = [mail for mail in mails if mail.uid not in ahead]
        ahead |= acked
        if w.message_ids is not None and acked:
            self.keys += [k for k in (message_id_key(mail.raw) for mail in fresh
                                      if mail.uid in acked) if k is not None]
        self.published += len(acked)
        self.unsaved += 1
        if error is not None and ((ahead - w._skipped) & set(batch)):
            error = w._quarantine_refused(fresh, acked, uidvalidity, error)
        if self.error is not None:  # an earlier batch is still missing: no advance past it
            w._record_progress(self.checkpoint, len(acked))
            return
        # UIDs the server did not return (expunged meanwhile) have nothing to publish
        fetched = {mail.uid for mail in mails}
        done = (ahead & set(batch)) | (set(batch) - fetched)
        new = advance(self.checkpoint, batch, done)
        moved = [u for u in batch if u <= new.last_uid and u in fetched]
        if m.move_to and moved:
            await w._call(w.session.move, moved, m.move_to)
        if new != self.checkpoint:
            self.checkpoint = new
            ahead.difference_update([u for u in ahead if u <= new.last_uid])
        w._record_progress(self.checkpoint, len(acked))
        self.error = error

    async def save_soon(self) -> None:
        """Start saving what is settled now, in the background. One save at a time: if the
        previous one is still being written, wait for it first (a failed save raises here),
        so what is acknowledged but not yet durable stays bounded however slow the disk."""
        if self._saving is not None:
            await self._saving
        self.unsaved = 0
        self._saving = asyncio.create_task(self._save())

    async def save(self) -> None:
        """Everything settled so far is durable when this returns (or it raises why not)."""
        await self.save_soon()
        assert self._saving is not None
        await self._saving

    async def _save(self) -> None:
        w = self.w
        # fingerprints and checkpoint taken together: it never covers mail not fingerprinted
        keys, self.keys = self.keys, []
        checkpoint = self.checkpoint
        if keys and w.message_ids is not None:
            await asyncio.to_thread(w.message_ids.append, w.mailbox.name, w.folder, keys)
        if checkpoint != self.saved:
            await w.checkpoints.commit(w.mailbox.name, w.folder, checkpoint)
            self.saved = checkpoint
