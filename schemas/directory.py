"""Reference data on compacted topics: customers, agents, rule sets."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Literal

from schemas.base import Extra, empty_map, extra_field, record

Presence = Literal["online", "away", "offline"]


@record
class CustomerRecord:
    """A customer, merged across email addresses, chat visitor ids and verified identities.
    Attributes (tier such as VIP, title such as CEO, company, language) come from the operator's
    directory."""

    schema_version: int = 1
    customer_id: str
    emails: tuple[str, ...] = ()
    visitor_ids: tuple[str, ...] = ()
    identifiers: tuple[str, ...] = ()
    name: str = ""
    tier: str | None = None
    title: str | None = None
    company: str | None = None
    language: str | None = None
    attributes: Mapping[str, str] = empty_map()
    updated_at: datetime | None = None
    deleted: bool = False
    merged_into: str | None = None  # this record was merged into another customer
    extra: Extra = extra_field()


@record
class WorkingHours:
    timezone: str = "UTC"
    # "mon".."sun" -> ("09:00", "17:00"); absent day = not working
    days: Mapping[str, tuple[str, str]] = empty_map()


@record
class Agent:
    schema_version: int = 1
    agent_id: str
    name: str = ""
    email: str | None = None
    teams: tuple[str, ...] = ()
    roles: tuple[str, ...] = ()  # e.g. "supervisor"
    tier: str = "L1"
    skills: tuple[str, ...] = ()
    languages: tuple[str, ...] = ()
    capacity: Mapping[str, int] = empty_map()  # channel -> max open tickets
    presence: Presence = "offline"
    working_hours: WorkingHours | None = None
    updated_at: datetime | None = None
    deleted: bool = False
    extra: Extra = extra_field()


@record
class RulesetRecord:
    """A rules file as pushed by ``helpline rules push``; the classify stage compiles it."""

    schema_version: int = 1
    name: str
    version: str  # content hash
    source: str  # the file's text
    format: Literal["toml", "yaml"] = "toml"
    pushed_at: datetime
    extra: Extra = extra_field()
