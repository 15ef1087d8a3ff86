"""Delivering notifications: intent → send → final, per the protocol in :mod:`notify.sentlog`,
and the records that follow a final outcome (result, ``ack-sent`` event, chat reply, DLQ)."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime, timedelta

from notify.alerts import alert_detail, alert_values
from notify.compose import Composer
from notify.render import TemplateMissing
from notify.sentlog import SentLog, SentLogJournal, record_key
from notify.settings import NotifySettings
from notify.transport import DeliveryError, MailTransport, WebhookPoster
from notify.webhooks import signed_headers, webhook_body
from schemas.codec import encode
from schemas.deadletter import DeadLetter
from schemas.events import Actor, TicketEvent
from schemas.notification import AckSent, Notification, NotificationResult, Outcome
from schemas.stage import NO_METER, Meter, Out
from schemas.topics import (
    BY_NAME,
    CHAT_OUTBOUND,
    NOTIFY_OUTBOX,
    NOTIFY_RESULTS,
    NOTIFY_SENTLOG,
    TICKET_EVENTS,
    dlq_name,
)

log = logging.getLogger("helpline.notify")
NOTIFIER = Actor(kind="system", id="notify")
DLQ = BY_NAME[dlq_name("notify")]


# The detail of an intent (and so of its final record) sent again because a previous worker
# left it in doubt: its ack-sent says ``resent`` and gets an id of its own.
RESEND = "in-doubt resend"


def ack_event_id(ticket_id: str, notification_id: str, resent: bool = False) -> str:
    cause = f"{ticket_id}\x00{notification_id}\x00ack-sent" + ("\x00resent" if resent else "")
    return hashlib.sha256(cause.encode()).hexdigest()[:32]


def ack_sent(r: NotificationResult) -> bool:
    """A sent auto-ack: its follow-ups (the ack-sent event above all) are made durable before
    its final record, so they are never emitted again after it (issue #17 item 5)."""
    n = r.notification
    return r.outcome == "sent" and r.phase == "final" and n is not None and n.kind == "auto-ack"


def backoff(settings: NotifySettings, attempts: int) -> timedelta:
    seconds = settings.retry_backoff_s * (2 ** max(0, attempts - 1))
    return timedelta(seconds=min(seconds, settings.retry_backoff_max_s))


class Dispatcher:
    def __init__(
        self, *, settings: NotifySettings, composer: Composer, transport: MailTransport,
        webhooks: WebhookPoster | None, journal: SentLogJournal, sentlog: SentLog,
        meter: Meter = NO_METER,
    ) -> None:
        self.settings = settings
        self.composer = composer
        self.transport = transport
        self.webhooks = webhooks
        self.journal = journal
        self.sentlog = sentlog
        self.meter = meter
        self.retry_at: dict[str, datetime] = {}  # retriable failures waiting for their backoff
        # sends under way: the timer task and a batch must never both send one notification
        self.in_flight: set[str] = set()
        self._slots = asyncio.Semaphore(settings.send_concurrency)
        # final records of sent mails waiting for the journal, and the write taking them
        self._finals: list[tuple[NotificationResult, asyncio.Future[None]]] = []
        self._finals_writing: asyncio.Task[None] | None = None

    # -- records ---------------------------------------------------------------------------

    def result(
        self, n: Notification, outcome: Outcome, now: datetime, *, attempts: int = 1,
        detail: str = "", server_reply: str | None = None, message_id: str | None = None,
        phase: str = "final",
    ) -> NotificationResult:
        return NotificationResult(
            notification_id=n.notification_id, ticket_id=n.ticket_id, outcome=outcome, at=now,
            attempts=attempts, detail=detail, server_reply=server_reply, message_id=message_id,
            phase=phase,  # type: ignore[arg-type]
            notification=n,
            recipient=n.recipient.address if n.recipient else (n.webhook or None),
        )

    async def finish(
        self, results: Sequence[NotificationResult], now: datetime, publish: bool = False,
        *, shared_write: bool = False,
    ) -> list[Out]:
        """Make final records durable and return what follows from them — or, with
        ``publish`` (timer work, where no redelivered input would re-create the follow-ups),
        publish the follow-ups first and only then the final records. A sent ack's follow-ups
        are always published first: the ack-sent event is then written once, not again with
        every redelivery of the batch that caused it. ``shared_write``: each final goes in the
        next write shared with concurrent sends (:meth:`_write_final`)."""
        first = [o for r in results if publish or ack_sent(r) for o in self.followups(r, now)]
        outs = [o for r in results if not (publish or ack_sent(r))
                for o in self.followups(r, now)]
        await self.journal.publish(first)
        if shared_write:
            await asyncio.gather(*(self._write_final(r) for r in results))
        else:
            await self.journal.write(results)
        for r in results:
            self.sentlog.apply(r)
            self.retry_at.pop(r.notification_id, None)
            self._count(r)
        return outs

    def _count(self, r: NotificationResult) -> None:
        n = r.notification
        if n is not None:
            self.meter.count("notify_notifications", kind=n.kind, channel=n.channel,
                             outcome=r.outcome, reason=outcome_reason(r))
            if r.outcome == "sent":  # times from the records: a replay observes the same
                self.meter.observe("notify_end_to_end", (r.at - n.created_at).total_seconds(),
                                   kind=n.kind, channel=n.channel)

    def followups(self, r: NotificationResult, now: datetime) -> list[Out]:
        """Records that follow a final outcome; identical when re-emitted after a redelivery
        (same ids, same timestamps from the stored record), so consumers dedupe them."""
        n = r.notification
        outs = [Out(NOTIFY_RESULTS, r.notification_id.encode(), replace(r, notification=None))]
        if n is None:
            return outs
        if r.outcome == "sent" and n.kind == "auto-ack":
            resent = r.detail == RESEND
            event = TicketEvent(
                event_id=ack_event_id(n.ticket_id, n.notification_id, resent),
                ticket_id=n.ticket_id, ticket_number=n.ticket_number, at=r.at, actor=NOTIFIER,
                payload=AckSent(notification_id=n.notification_id, channel=n.channel,
                                message_id=r.message_id, resent=resent),
                causation_id=n.notification_id,
            )
            outs.append(Out(TICKET_EVENTS, n.ticket_id.encode(), event))
        if r.outcome == "sent" and n.channel == "chat":
            reply = self.composer.chat(n, r.at)
            key = f"{reply.site_id}:{reply.conversation_id}".encode()
            outs.append(Out(CHAT_OUTBOUND, key, reply))
        if r.outcome == "failed":
            outs.append(Out(DLQ, n.ticket_id.encode(), DeadLetter(
                stage="notify", source_topic=NOTIFY_OUTBOX.name, key=n.ticket_id.encode(),
                value=encode(n), error_type="DeliveryFailed",
                error=r.server_reply or r.detail, retriable=False, failed_at=r.at,
                attempts=r.attempts,
            )))
        return outs

    # -- delivery ---------------------------------------------------------------------------

    async def deliver(
        self, items: Sequence[tuple[Notification, int]], now: datetime, publish: bool = False,
        resend: bool = False,
    ) -> list[Out]:
        """Send each (notification, attempts so far). Chat replies are records (the runner
        produces them before committing; a chat ack's are published before its final record);
        mail and webhooks go through intent → send → final. ``resend``: these were left in
        doubt by a previous worker (counted, and marked on their ack-sent events)."""
        fresh: dict[str, tuple[Notification, int]] = {}
        for n, a in items:
            nid = n.notification_id
            final = self.sentlog.finals.get(nid)
            # a permanent failure may be tried again when the notification is put back on the
            # outbox (``helpline replay`` of dlq.notify, once the address or relay is fixed)
            if nid not in self.in_flight and (final is None or final.outcome == "failed"):
                fresh[nid] = (n, a)
        items = list(fresh.values())
        chat = [n for n, _ in items if n.channel == "chat"]
        remote = [(n, a) for n, a in items if n.channel != "chat"]
        outs: list[Out] = []
        if resend:
            for n, _ in items:
                self.meter.count("notify_resends", kind=n.kind, channel=n.channel)
        if chat:
            finals = [self.result(n, "sent", now) for n in chat]
            ordered = [r for r in finals if publish or ack_sent(r)]
            for r in finals:
                self.sentlog.apply(r)
                self._count(r)
                if not (publish or ack_sent(r)):
                    outs.extend(self.followups(r, now))
                    outs.append(Out(NOTIFY_SENTLOG, record_key(r), r))
            if ordered:  # the chat reply is the send: published before its final record
                await self.journal.publish([o for r in ordered for o in self.followups(r, now)])
                await self.journal.write(ordered)
        if not remote:
            return outs
        intents = [
            self.result(n, "retrying", now, attempts=a + 1, phase="intent",
                        message_id=self.composer.message_id(n) if n.channel == "email" else None,
                        detail=RESEND if resend else "")
            for n, a in remote
        ]
        self.in_flight.update(r.notification_id for r in intents)
        # Intents are written for as many sends as may run at once, not for the whole batch:
        # a worker killed mid-batch leaves at most ``send_concurrency`` in doubt (resent after
        # the restart), not every notification of the batch not sent yet.
        step = self.settings.send_concurrency
        try:
            for i in range(0, len(intents), step):
                chunk = intents[i:i + step]
                await self.journal.write(chunk)
                for r in chunk:
                    self.sentlog.apply(r)
                for part in await asyncio.gather(*(self._attempt(r, now, publish)
                                                   for r in chunk)):
                    outs.extend(part)
        finally:
            self.in_flight.difference_update(r.notification_id for r in intents)
        return outs

    async def _attempt(
        self, intent: NotificationResult, now: datetime, publish: bool
    ) -> list[Out]:
        n = intent.notification
        assert n is not None
        async with self._slots:
            started = time.perf_counter()
            try:
                reply = await self._send(n, now)
            except DeliveryError as exc:
                self._attempted(n.channel, started, "retriable" if exc.retriable else "permanent")
                return await self._failed(intent, exc, now, publish)
            except (TemplateMissing, ValueError, KeyError) as exc:
                err = DeliveryError(f"cannot compose: {exc}", retriable=False)
                return await self._failed(intent, err, now, publish)
            self._attempted(n.channel, started, "ok")
            final = replace(intent, outcome="sent", phase="final", server_reply=reply[:500])
            # durable right after its send; a batch's sends share the writes of their finals
            return await self.finish([final], now, publish, shared_write=not publish)

    async def _write_final(self, final: NotificationResult) -> None:
        """Make one sent mail's final record durable. The finals of sends that end while a
        write is in flight go together in the next (a broker round trip for several mails,
        not one each), so none waits for more than the write before it: the window in which
        a crash leaves a sent mail in doubt stays one write per mail."""
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._finals.append((final, done))
        if self._finals_writing is None:
            self._finals_writing = asyncio.create_task(self._write_finals())
        await asyncio.shield(done)

    async def _write_finals(self) -> None:
        batch: list[tuple[NotificationResult, asyncio.Future[None]]] = []
        try:
            while self._finals:
                batch, self._finals = self._finals, []
                try:
                    await self.journal.write([r for r, _ in batch])
                except Exception as exc:
                    for _, done in batch:
                        if not done.done():
                            done.set_exception(exc)
                else:
                    for _, done in batch:
                        if not done.done():
                            done.set_result(None)
        except asyncio.CancelledError:
            for _, done in (*batch, *self._finals):
                if not done.done():
                    done.cancel()
            self._finals = []
            raise
        finally:
            self._finals_writing = None

    def _attempted(self, channel: str, started: float, outcome: str) -> None:
        self.meter.observe("notify_send", time.perf_counter() - started, channel=channel,
                           outcome="ok" if outcome == "ok" else "error")
        self.meter.count("notify_deliveries", channel=channel, outcome=outcome)

    async def _send(self, n: Notification, now: datetime) -> str:
        if n.channel == "email":
            return await self.transport.send(self.composer.email(n, now))
        target = self.settings.webhooks.get(n.webhook or "")
        if target is None or self.webhooks is None:
            raise DeliveryError(f"no webhook named {n.webhook!r}", retriable=False)
        text = self.composer.plain_text(n, now)
        facts = {**alert_values(n), "kind": n.kind, "ticket_id": n.ticket_id,
                 "detail": alert_detail(n)}
        title = facts.get("alert_title") or (
            f"{n.context.get('count', '')} helpline alerts" if n.template == "alert-digest"
            else n.kind
        )
        body = webhook_body(target.format, title, text, facts)
        hdrs = signed_headers(target.secret, int(now.timestamp()), body, n.notification_id)
        return await self.webhooks.post(target.url, body, hdrs)

    async def _failed(
        self, intent: NotificationResult, exc: DeliveryError, now: datetime, publish: bool
    ) -> list[Out]:
        detail = str(exc)[:500]
        n = intent.notification
        # no address, no body: the notification id leads to the rest in the sent-log
        log.warning("delivery failed", extra={
            "stage": "notify", "notification_id": intent.notification_id,
            "kind": n.kind if n else "", "channel": n.channel if n else "",
            "retriable": exc.retriable, "code": exc.code, "attempts": intent.attempts})
        if exc.retriable and intent.attempts < self.settings.max_attempts:
            # Stays an intent (durable, carries the notification); the stage retries it when
            # its backoff is over. Reported as "retrying" so operators see a slow relay.
            retrying = replace(intent, detail=detail, server_reply=exc.server_reply, at=now)
            await self.journal.write([retrying])
            self.sentlog.apply(retrying)
            self.retry_at[intent.notification_id] = now + backoff(self.settings, intent.attempts)
            self.meter.count("notify_retries", channel=n.channel if n else "email")
            report = [Out(NOTIFY_RESULTS, intent.notification_id.encode(),
                          replace(retrying, notification=None))]
            if publish:
                await self.journal.publish(report)
                return []
            return report
        if exc.retriable:
            detail = f"gave up after {intent.attempts} attempts: {detail}"
        failed = replace(intent, outcome="failed", phase="final", detail=detail,
                         server_reply=exc.server_reply, at=now)
        return await self.finish([failed], now, publish)

    async def suppress(
        self, items: Sequence[tuple[Notification, str]], now: datetime, publish: bool = False
    ) -> list[Out]:
        finals = [self.result(n, "suppressed", now, detail=reason) for n, reason in items]
        return await self.finish(finals, now, publish) if finals else []

    async def close(self) -> None:
        await self.transport.close()
        if self.webhooks is not None:
            await self.webhooks.close()
        await self.journal.close()


def outcome_reason(r: NotificationResult) -> str:
    """A final outcome's reason as a metric label (a small fixed set, never the detail's
    free text): the refusal for a suppression, how a failure ended, whether a sent alert went
    out in a digest."""
    detail = r.detail
    if r.outcome == "suppressed":
        return detail or "none"
    if r.outcome == "failed":
        if detail.startswith("in-doubt"):
            return "in-doubt"
        if detail.startswith("gave up"):
            return "retries-exhausted"
        if detail.startswith("cannot compose"):
            return "compose"
        return "permanent"
    return "digested" if detail.startswith("digested") else "none"
