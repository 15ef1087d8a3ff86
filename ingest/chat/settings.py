"""Settings of the chat service (the ``[chat]`` section of the config file).

Example::

    [chat]
    port = 8085

    [[chat.sites]]
    id = "acme"
    allowed_origins = ["https://www.acme.example", "self"]
    secret = "shared-with-acme-backend"
    require_identity = false
    availability = "agents"      # or "online" / "offline"
    agent_teams = ["support"]
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from schemas.notification import NotificationKind

Availability = Literal["online", "offline", "agents"]
Locale = Literal["en", "fr"]


class SiteSettings(BaseModel):
    """One website that embeds the widget."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")
    # Exact origins ("https://shop.example"), or "self" for the chat service's own origin
    # (its demo page): the origin of ``chat.public_url`` and the address it listens on, from
    # configuration, never from a request's Host header. A request whose Origin is not listed
    # gets 403.
    allowed_origins: tuple[str, ...] = ()
    # Requests without an Origin header come from servers, not browsers; allow them only when
    # the site says so (a browser always sends Origin on a cross-origin POST).
    allow_missing_origin: bool = False
    # The site's secret for identifier_hash = HMAC-SHA256(secret, identifier).
    secret: str = ""
    # True: every conversation must carry a valid identifier + identifier_hash.
    require_identity: bool = False
    # "agents": online when an agent of ``agent_teams`` (any team if empty) is online.
    availability: Availability = "agents"
    agent_teams: tuple[str, ...] = ()
    pre_chat_fields: tuple[Literal["name", "email"], ...] = ("name", "email")
    require_email: bool = False
    default_locale: Locale = "en"
    title: str = ""

    @field_validator("allowed_origins")
    @classmethod
    def _origins_are_exact(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        for origin in v:
            if origin != "self" and (
                not origin.startswith(("http://", "https://")) or origin.endswith("/")
            ):
                raise ValueError(f"origin {origin!r} must look like https://host[:port]")
        return v


class RateLimit(BaseModel):
    """A token bucket: ``burst`` requests at once, refilled at ``per_minute``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    per_minute: float = Field(gt=0)
    burst: int = Field(ge=1)


class ChatSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    host: str = "127.0.0.1"
    port: int = Field(default=8085, ge=0, le=65535)
    # Client addresses (comma-separated) whose X-Forwarded-For is trusted (a reverse proxy).
    forwarded_allow_ips: str = ""
    # The URL the widget uses to reach this service; empty: where widget.js was loaded from.
    public_url: str = ""
    sites: tuple[SiteSettings, ...] = ()

    # request limits
    max_body_bytes: int = Field(default=16_384, ge=256)
    max_message_chars: int = Field(default=4000, ge=1)
    max_name_chars: int = Field(default=200, ge=1)
    max_field_chars: int = Field(default=500, ge=1)
    max_fields: int = Field(default=10, ge=0)

    # rate limits (429 + Retry-After)
    visitor_messages: RateLimit = RateLimit(per_minute=20, burst=8)
    ip_messages: RateLimit = RateLimit(per_minute=120, burst=40)
    ip_conversations: RateLimit = RateLimit(per_minute=10, burst=5)
    rate_limit_max_keys: int = Field(default=100_000, ge=100)

    # Kafka
    publish_timeout_s: float = Field(default=5.0, gt=0)
    unavailable_retry_after_s: int = Field(default=2, ge=1)
    idempotency_cache_size: int = Field(default=50_000, ge=0)
    # At start the service re-reads this much of chat.outbound, so a widget reconnecting after
    # a restart still gets its replies (it keeps no checkpoint of its own).
    outbound_replay_s: float = Field(default=900.0, ge=0)

    # visitor tokens
    visitor_token_ttl_s: int = Field(default=30 * 24 * 3600, ge=60)
    token_cache_size: int = Field(default=20_000, ge=0)

    # continuity: a visitor has "left" when no event stream was open for the conversation
    # during ``left_after_s`` after a reply arrived; the reply then goes out by email.
    left_after_s: float = Field(default=120.0, gt=0)
    fallback_check_interval_s: float = Field(default=5.0, gt=0)
    email_fallback_kinds: tuple[NotificationKind, ...] = ("agent-reply", "auto-ack")
    conversation_idle_s: float = Field(default=24 * 3600.0, gt=0)
    max_replies_kept: int = Field(default=50, ge=1)
    sse_heartbeat_s: float = Field(default=15.0, gt=0)
    sse_retry_ms: int = Field(default=3000, ge=100)
    shutdown_timeout_s: float = Field(default=10.0, gt=0)

    def site(self, site_id: str) -> SiteSettings | None:
        for s in self.sites:
            if s.id == site_id:
                return s
        return None
