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


ModelMode = Literal["active", "shadow"]


@record
class ModelPart:
    """A piece of a trained classifier pushed by ``helpline model push`` onto the compacted
    ``models`` topic. The weights travel in chunks keyed ``<version>/<index>`` (a broker
    refuses records past ~1 MiB); then a manifest keyed by the slot (``<name>``, or
    ``<name>:shadow``) carries the model card and an HMAC over card and weights. A classify
    worker verifies that signature before it unpickles anything."""

    schema_version: int = 1
    name: str  # the slot: one active (and at most one shadow) model per name
    version: str  # the card's version (sha256 of the weights, 16 hex digits)
    index: int  # a chunk's position; the manifest has index == count
    count: int  # how many chunks the weights were cut into
    data: bytes = b""  # a chunk's bytes (empty in the manifest)
    card: str = ""  # manifest: model.json text, byte for byte as signed
    signature: str = ""  # manifest: hex HMAC-SHA256 of card, NUL, weights
    mode: ModelMode = "active"
    pushed_at: datetime | None = None
    extra: Extra = extra_field()

    @property
    def is_manifest(self) -> bool:
        return self.index == self.count


@record
class LabelledExample:
    """What an agent's correction teaches the classifier: the ticket's first message and the
    value an agent gave a field the classifier had set (a changed priority, a reassignment to
    another team, a merge into a ticket of another category, an escalation and its reason).
    Written by the classify stage to the compacted ``model.examples`` topic, keyed
    ``<ticket id>/<target>`` (the latest correction of a field wins); read by
    ``helpline model train --from-topic``."""

    schema_version: int = 1
    ticket_id: str
    target: str  # category / team / priority / department / type / escalation
    label: str  # what the agent decided
    previous: str | None = None  # what classification had said
    text: str = ""  # subject and body of the message that opened the ticket
    source: str = ""  # the event that taught it: priority-changed, assigned, merged, …
    at: datetime | None = None
    extra: Extra = extra_field()
