"""Settings of the tickets stage (the `[tickets]` section of the config file)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

# Host names the API answers to by default (any port): loopback only.
DEFAULT_API_ALLOWED_HOSTS = ("localhost", "127.0.0.1", "[::1]")


class TicketsSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    # Ticket numbers look like ``HL-2026-000123``: prefix, year of creation, sequence.
    number_prefix: str = Field(default="HL", pattern=r"^[A-Z][A-Z0-9]{0,9}$")
    number_digits: int = Field(default=6, ge=3, le=12)
    # Sequences are interleaved by partition of the `messages` topic (see tickets.numbers);
    # 0 means "the configured partition count" (kafka.partitions). Never lower it once used.
    number_stride: int = Field(default=0, ge=0, le=4096)
    # A customer reply to a closed ticket reopens it within this window (counted from when it
    # was solved/closed); later replies open a follow-up ticket linked to the old one.
    reopen_window_days: float = Field(default=14.0, ge=0)
    # Solved tickets close by themselves this long after being solved (0: never). The close
    # is stamped at the due time, not when the check ran, so a replay yields the same event.
    auto_close_after_days: float = Field(default=4.0, ge=0)
    auto_close_check_s: float = Field(default=60.0, gt=0)
    # Our own support addresses: never counted as ticket participants.
    own_addresses: tuple[str, ...] = ()
    # Bounds on what one message may cost the threader.
    max_references_checked: int = Field(default=100, ge=1)
    max_participants: int = Field(default=50, ge=1)
    # References we put on an agent reply's notification (newest last).
    reply_references_limit: int = Field(default=20, ge=1)
    # HTTP API (`helpline tickets api`): once api_token is set, reads and agent actions
    # (POST /tickets/{ref}/actions) need it as a bearer token; while it is unset, reads are open
    # to whoever reaches this address (keep it on loopback) and actions are refused.
    api_host: str = "127.0.0.1"
    api_port: int = Field(default=8086, ge=0, le=65535)
    api_token: SecretStr | None = None
    # Host header values (without port) the API answers to; others get 400, so a page on a
    # rebound DNS name cannot read it through a browser. "*.example.org" matches subdomains,
    # "*" turns the check off. Add the name clients use when api_host is not loopback.
    api_allowed_hosts: tuple[str, ...] = Field(default=DEFAULT_API_ALLOWED_HOSTS, min_length=1)
    # CLI / API: how long to wait for the state and event topics to be read to their end.
    catchup_timeout_s: float = Field(default=30.0, gt=0)
    # CLI: how long to wait for the broker to acknowledge a command.
    command_timeout_s: float = Field(default=15.0, gt=0)
    # The query view keeps at most this many events per ticket (older ones are still in the log).
    view_max_events_per_ticket: int = Field(default=5000, ge=10)

    @field_validator("api_allowed_hosts")
    @classmethod
    def _host_patterns(cls, hosts: tuple[str, ...]) -> tuple[str, ...]:
        for h in hosts:
            if not h or "*" in h[1:] or (h.startswith("*") and h != "*" and not h.startswith("*.")):
                raise ValueError(f"bad host pattern {h!r}: a name, '*.example.org' or '*'")
        return hosts
