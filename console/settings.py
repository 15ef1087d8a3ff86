"""Settings of the console (the ``[console]`` section of the config file)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

DEFAULT_ALLOWED_HOSTS = ("localhost", "127.0.0.1", "[::1]")


class ConsoleSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    host: str = "127.0.0.1"
    port: int = Field(default=8089, ge=0, le=65535)
    # Host header values the console answers to (as tickets.api_allowed_hosts): add the name
    # agents use when it is served behind a proxy.
    allowed_hosts: tuple[str, ...] = Field(default=DEFAULT_ALLOWED_HOSTS, min_length=1)
    # argon2 hashes of the agents' passwords, written by `helpline console passwd`; re-read
    # when it changes, so a new password works without a restart.
    password_file: str = ".cache/console/passwords.json"
    session_ttl_s: float = Field(default=12 * 3600, gt=0)
    # Wrong passwords for one agent id or from one address before sign-in is refused for
    # the rest of the window.
    sign_in_max_failures: int = Field(default=5, ge=1)
    sign_in_window_s: float = Field(default=300.0, gt=0)
    # On stop, open live streams (server-sent events) are cut after this long.
    shutdown_timeout_s: float = Field(default=5.0, gt=0)
    # Secure cookies: "auto" when the request came over https (X-Forwarded-Proto from a
    # trusted proxy counts, see forwarded_allow_ips), "always" or "never".
    secure_cookies: Literal["auto", "always", "never"] = "auto"
    forwarded_allow_ips: str = "127.0.0.1"
    # Queue: due within this many seconds shows a warning; at most this many rows.
    sla_warning_s: float = Field(default=3600.0, ge=0)
    queue_limit: int = Field(default=500, ge=1)
    # Server-sent events: a comment line this often keeps proxies from closing the stream.
    sse_heartbeat_s: float = Field(default=15.0, gt=0)
    # How long to wait for the topics to be read to their end at start / a command to be taken.
    catchup_timeout_s: float = Field(default=30.0, gt=0)
    command_timeout_s: float = Field(default=15.0, gt=0)
    view_max_events_per_ticket: int = Field(default=5000, ge=10)
    # Reports: busiest hours and daily volumes are read in this timezone.
    report_timezone: str = "UTC"
