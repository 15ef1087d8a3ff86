"""The chat service's state and decisions, independent of HTTP: who may post, what goes to
raw.chat, who is listening for replies, which agents are online.

The HTTP layer (``ingest.chat.app``) turns requests into calls here; the outbound reader
(``ingest.chat.outbound``) feeds replies and agent presence in.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime

from ingest.chat.continuity import ConversationBook, ConversationKey
from ingest.chat.identity import (
    VisitorPass,
    identifier_is_proven,
    new_id,
    read_visitor,
    sign_visitor,
)
from ingest.chat.normalize import chat_message_id
from ingest.chat.payloads import PostMessage, Rejection, StartConversation
from ingest.chat.ratelimit import TokenBuckets
from ingest.chat.settings import ChatSettings, SiteSettings
from schemas.clock import Clock, utcnow
from schemas.directory import Agent
from schemas.notification import ChatReply
from schemas.raw import RawChatMessage
from schemas.stage import NO_METER, Meter, Publisher
from schemas.topics import NOTIFY_OUTBOX, RAW_CHAT

log = logging.getLogger("helpline.chat")


@dataclass(frozen=True, slots=True)
class Accepted:
    message_id: str  # the id downstream stages know the message by
    duplicate: bool = False


@dataclass(frozen=True, slots=True)
class Started:
    token: str
    visitor: VisitorPass


def wire_message_id(visitor: VisitorPass, msg: PostMessage) -> str:
    """The client's id, scoped by its conversation: one visitor cannot collide with (and so
    suppress, downstream dedupe being by id) another visitor's messages."""
    return f"{visitor.conversation_id}.{msg.message_id}"


def raw_chat_message(
    site_id: str, visitor: VisitorPass, msg: PostMessage, now: datetime
) -> RawChatMessage:
    """What goes on raw.chat for an accepted message. Pure."""
    return RawChatMessage(
        site_id=site_id,
        conversation_id=visitor.conversation_id,
        message_id=wire_message_id(visitor, msg),
        visitor_id=visitor.visitor_id,
        text=msg.text,
        received_at=now,
        verified_identifier=visitor.verified_identifier,
        name=msg.contact.name,
        email=msg.contact.email,
        locale=msg.contact.locale,
        page_url=msg.contact.page_url,
        fields=msg.fields,
    )


class ChatDesk:
    def __init__(
        self,
        settings: ChatSettings,
        signing_key: bytes,
        publisher: Publisher,
        clock: Clock = utcnow,
        meter: Meter = NO_METER,
    ) -> None:
        self.settings = settings
        self.meter = meter
        self._key = signing_key
        self._publisher = publisher
        self._clock = clock
        self.book = ConversationBook(settings)
        self._sites = {s.id: s for s in settings.sites}
        self._visitor_limit = TokenBuckets(
            settings.visitor_messages.per_minute, settings.visitor_messages.burst,
            settings.rate_limit_max_keys,
        )
        self._ip_limit = TokenBuckets(
            settings.ip_messages.per_minute, settings.ip_messages.burst,
            settings.rate_limit_max_keys,
        )
        self._start_limit = TokenBuckets(
            settings.ip_conversations.per_minute, settings.ip_conversations.burst,
            settings.rate_limit_max_keys,
        )
        self._accepted: OrderedDict[str, str] = OrderedDict()
        self._tokens: OrderedDict[str, VisitorPass] = OrderedDict()
        self._inflight: dict[str, asyncio.Future[str]] = {}
        self._listeners: dict[ConversationKey, set[asyncio.Queue[ChatReply | None]]] = {}
        self._agents: dict[str, Agent] = {}

    # -- sites and availability ---------------------------------------------------------------

    def site(self, site_id: str) -> SiteSettings:
        site = self._sites.get(site_id)
        if site is None:
            raise Rejection(404, "unknown-site", f"no chat site {site_id[:64]!r}")
        return site

    def agent_changed(self, agent: Agent) -> None:
        if agent.deleted:
            self.agent_gone(agent.agent_id)
        else:
            self._agents[agent.agent_id] = agent

    def agent_gone(self, agent_id: str) -> None:
        self._agents.pop(agent_id, None)

    def online(self, site: SiteSettings) -> bool:
        if site.availability != "agents":
            return site.availability == "online"
        teams = set(site.agent_teams)
        return any(
            a.presence == "online"
            and (not teams or teams.intersection(a.teams))
            and a.capacity.get("chat", 1) > 0
            for a in self._agents.values()
        )

    # -- identity -----------------------------------------------------------------------------

    def now(self) -> datetime:
        """The time for one request; handlers read it once and pass it down."""
        return self._clock()

    def _now_s(self) -> float:
        return self._clock().timestamp()

    def start(self, site: SiteSettings, req: StartConversation, ip: str) -> Started:
        verdict = self._start_limit.take(ip, self._now_s())
        if not verdict.allowed:
            raise Rejection(429, "rate-limited", "too many new conversations",
                            retry_after_s=verdict.retry_after_s)
        verified: str | None = None
        if req.identifier is not None:
            if not identifier_is_proven(site.secret, req.identifier, req.identifier_hash or ""):
                raise Rejection(403, "identity-not-proven",
                                "identifier_hash does not match the identifier", "identifier_hash")
            verified = req.identifier
        elif site.require_identity:
            raise Rejection(401, "identity-required",
                            "this site requires identifier and identifier_hash", "identifier")
        visitor_id = new_id("v_")
        if req.visitor_token:
            earlier = read_visitor(self._key, req.visitor_token, self._clock(),
                                   self.settings.visitor_token_ttl_s)
            # keep the visitor's id across conversations, unless the identity changed
            if earlier and earlier.site_id == site.id and earlier.verified_identifier == verified:
                visitor_id = earlier.visitor_id
        visitor = VisitorPass(
            site_id=site.id, visitor_id=visitor_id, conversation_id=new_id("c_"),
            issued_at=int(self._now_s()), verified_identifier=verified,
        )
        return Started(sign_visitor(self._key, visitor), visitor)

    def visitor(
        self, site: SiteSettings, conversation_id: str, token: str | None, now: datetime
    ) -> VisitorPass:
        if not token:
            raise Rejection(401, "token-required", "a visitor token is required")
        visitor = self._read_token(token, now)
        if visitor is None or visitor.site_id != site.id:
            raise Rejection(401, "invalid-token", "the visitor token is invalid or expired")
        if visitor.conversation_id != conversation_id:
            raise Rejection(403, "wrong-conversation", "the token is for another conversation")
        return visitor

    def _read_token(self, token: str, now: datetime) -> VisitorPass | None:
        """read_visitor, with verified tokens remembered (the MAC check is the hot path's
        single biggest cost); expiry is checked on every use."""
        ttl = self.settings.visitor_token_ttl_s
        visitor = self._tokens.get(token)
        if visitor is None:
            visitor = read_visitor(self._key, token, now, ttl)
            if visitor is not None and self.settings.token_cache_size:
                self._tokens[token] = visitor
                if len(self._tokens) > self.settings.token_cache_size:
                    self._tokens.popitem(last=False)
        elif now.timestamp() - visitor.issued_at > ttl:
            del self._tokens[token]
            return None
        return visitor

    # -- inbound messages ---------------------------------------------------------------------

    def check_ip(self, ip: str, now: datetime) -> None:
        verdict = self._ip_limit.take(ip, now.timestamp())
        if not verdict.allowed:
            raise Rejection(429, "rate-limited", "too many messages from this address",
                            retry_after_s=verdict.retry_after_s)

    async def accept(
        self, site: SiteSettings, visitor: VisitorPass, msg: PostMessage, now: datetime
    ) -> Accepted:
        """Publish the message to raw.chat; returns once the broker acknowledged it."""
        wire_id = wire_message_id(visitor, msg)
        cache_key = f"{site.id}\x00{wire_id}"
        known = self._accepted.get(cache_key)
        if known is not None:
            return Accepted(known, duplicate=True)
        pending = self._inflight.get(cache_key)
        if pending is not None:  # the same message retried while the first try is in flight
            return Accepted(await asyncio.shield(pending), duplicate=True)
        verdict = self._visitor_limit.take(visitor.visitor_id, now.timestamp())
        if not verdict.allowed:
            raise Rejection(429, "rate-limited", "too many messages, slow down",
                            retry_after_s=verdict.retry_after_s)
        if site.require_email and not msg.contact.email and not self._known_email(visitor):
            raise Rejection(422, "missing-field", "this site asks for an email", "email")
        raw = raw_chat_message(site.id, visitor, msg, now)
        future: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self._inflight[cache_key] = future
        try:
            async with asyncio.timeout(self.settings.publish_timeout_s):
                await self._publisher.publish(
                    RAW_CHAT, f"{site.id}:{visitor.conversation_id}".encode(), raw
                )
            downstream = chat_message_id(site.id, wire_id)
            future.set_result(downstream)
        except Exception as exc:  # the broker's own words go to the log, not to the visitor
            log.warning("raw.chat publish failed: %s: %s", type(exc).__name__, exc)
            raise self._unavailable() from None
        finally:
            del self._inflight[cache_key]
            if not future.done():  # failed or cancelled: duplicates waiting on it get 503 too
                future.set_exception(self._unavailable())
                future.exception()  # retrieved: no "never retrieved" warning when alone
        self._remember(cache_key, downstream)
        self.book.visitor_wrote((site.id, visitor.conversation_id), now,
                                msg.contact.email, msg.contact.name)
        return Accepted(downstream)

    def _unavailable(self) -> Rejection:
        return Rejection(503, "unavailable", "the message could not be stored yet",
                         retry_after_s=self.settings.unavailable_retry_after_s)

    def _known_email(self, visitor: VisitorPass) -> bool:
        return visitor.verified_identifier is not None and "@" in visitor.verified_identifier

    def _remember(self, cache_key: str, downstream: str) -> None:
        if self.settings.idempotency_cache_size == 0:
            return
        self._accepted[cache_key] = downstream
        while len(self._accepted) > self.settings.idempotency_cache_size:
            self._accepted.popitem(last=False)

    # -- replies ------------------------------------------------------------------------------

    @asynccontextmanager
    async def listen(
        self, key: ConversationKey
    ) -> AsyncIterator[tuple[list[ChatReply], asyncio.Queue[ChatReply | None]]]:
        queue: asyncio.Queue[ChatReply | None] = asyncio.Queue(self.settings.max_replies_kept)
        self._listeners.setdefault(key, set()).add(queue)
        backlog = self.book.stream_opened(key, self._clock())
        try:
            yield backlog, queue
        finally:
            listeners = self._listeners.get(key)
            if listeners is not None:
                listeners.discard(queue)
                if not listeners:
                    del self._listeners[key]
            self.book.stream_closed(key, self._clock())

    def close_streams(self) -> None:
        for listeners in self._listeners.values():
            for queue in listeners:
                if queue.full():
                    queue.get_nowait()
                queue.put_nowait(None)

    def reply_arrived(self, reply: ChatReply, *, replayed: bool = False) -> None:
        key = (reply.site_id, reply.conversation_id)
        if self.book.reply_arrived(reply, self._clock(), replayed=replayed):
            for queue in self._listeners.get(key, ()):
                if not queue.full():  # a stuck stream catches up from the backlog on reconnect
                    queue.put_nowait(reply)
            self.meter.count("chat_replies_pushed")

    async def send_email_fallbacks(self) -> int:
        """Hand the receipts of replies delivered here, then the replies of visitors who left,
        to notify.outbox; returns how many replies were handed over for email."""
        now = self._clock()
        for receipt in self.book.receipts(now):
            async with asyncio.timeout(self.settings.publish_timeout_s):
                await self._publisher.publish(NOTIFY_OUTBOX, receipt.ticket_id.encode(),
                                              receipt)
            self.book.receipt_handed_over(receipt)
        due = self.book.due_for_email(now)
        for note in due:
            async with asyncio.timeout(self.settings.publish_timeout_s):
                await self._publisher.publish(NOTIFY_OUTBOX, note.ticket_id.encode(), note)
            self.book.email_handed_over(note)
            self.meter.count("chat_email_fallbacks")
        self.book.forget_idle(now)
        return len(due)
