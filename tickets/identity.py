"""Who wrote this message? Customers resolved by email address, chat visitor id and verified
chat identity, merged into one :class:`schemas.CustomerRecord`. Pure over an in-memory directory.

Trust: an email sender address and a site-verified chat identifier are identities; a chat
visitor id is a browser. A chat visitor's *typed* email is not proof, so it never links the
visitor to that address's customer (otherwise anyone could chat as the CEO and inherit the
VIP tier). A verified identifier links the visitor id to its customer; if the visitor was
already a separate (anonymous) customer, that record is merged into the verified one.

The directory comes from the operator (``helpline customers push FILE``) through the compacted
``customers`` topic. A customer first seen by email address or visitor id gets an id derived
from it (nothing to store: every replay and replica derives the same); the stage publishes to
the same topic only what cannot be derived: records extended with a verified identity and
records merged into another, so classify and route see the same customer.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime

from schemas.directory import CustomerRecord
from schemas.message import InboundMessage
from tickets.journal import Journal
from tickets.numbers import customer_id_for

_MAX_MERGE_HOPS = 16


@dataclass(frozen=True, slots=True)
class Resolution:
    customer: CustomerRecord
    changed: tuple[CustomerRecord, ...] = ()  # records to publish (new, extended, merged away)


class CustomerDirectory:
    def __init__(self) -> None:
        self.journal = Journal()
        self._records: dict[str, CustomerRecord] = {}
        self._by_email: dict[str, str] = {}
        self._by_visitor: dict[str, str] = {}
        self._by_identifier: dict[str, str] = {}

    def __len__(self) -> int:
        return len(self._records)

    def get(self, customer_id: str) -> CustomerRecord | None:
        record = self._records.get(customer_id)
        for _ in range(_MAX_MERGE_HOPS):
            if record is None or record.merged_into is None:
                break
            record = self._records.get(record.merged_into, record)
        return record

    def put(self, record: CustomerRecord) -> None:
        held = self._records.get(record.customer_id)
        if held is not None and _older(record, held):
            return
        j, cid = self.journal, record.customer_id
        j.set(self._records, cid, record)
        if record.deleted or record.merged_into:
            return
        for email in record.emails:
            j.set(self._by_email, email.lower(), cid)
        for visitor in record.visitor_ids:
            j.set(self._by_visitor, visitor, cid)
        for ident in record.identifiers:
            j.set(self._by_identifier, ident.lower(), cid)

    def remove(self, customer_id: str) -> None:
        self.journal.pop(self._records, customer_id)

    def by_email(self, email: str) -> CustomerRecord | None:
        return self._lookup(self._by_email, email.strip().lower())

    def _lookup(self, index: dict[str, str], value: str | None) -> CustomerRecord | None:
        if not value:
            return None
        cid = index.get(value)
        record = self.get(cid) if cid else None
        return None if record is None or record.deleted else record

    def resolve(self, msg: InboundMessage, at: datetime) -> Resolution:
        """The customer behind ``msg``; reads the directory only (the caller ``put``s
        ``changed``)."""
        if msg.channel != "chat":
            email = msg.sender.address.strip().lower()
            if not email:  # no sender address: a customer of its own, never shared
                return Resolution(CustomerRecord(
                    customer_id=customer_id_for("message", msg.message_id),
                    name=msg.sender.name, updated_at=at))
            return self._resolve_email(email, msg.sender.name, at)
        return self._resolve_chat(msg, at)

    def resolve_id(
        self, msg: InboundMessage, at: datetime
    ) -> tuple[str, tuple[CustomerRecord, ...]]:
        """``resolve`` for who needs only the customer id (and the records to publish): an
        email sender not in the directory gets the derived id without building a record."""
        if msg.channel != "chat":
            email = msg.sender.address.strip().lower()
            if email and self._lookup(self._by_email, email) is None:
                return customer_id_for("email", email), ()
        who = self.resolve(msg, at)
        return who.customer.customer_id, who.changed

    def _resolve_email(self, email: str, name: str, at: datetime) -> Resolution:
        found = self._lookup(self._by_email, email)
        if found is not None:
            return Resolution(found)
        # Not published: the id is derived from the address, so every replica and every
        # replay resolves the same customer without a directory write per new sender.
        record = CustomerRecord(
            customer_id=customer_id_for("email", email), emails=(email,) if email else (),
            name=name, updated_at=at,
        )
        return Resolution(record)

    def _resolve_chat(self, msg: InboundMessage, at: datetime) -> Resolution:
        ident = (msg.verified_identifier or "").lower() or None
        visitor = msg.visitor_id or None
        by_ident = self._lookup(self._by_identifier, ident)
        if by_ident is None and ident and "@" in ident:  # a verified email is an email identity
            by_ident = self._lookup(self._by_email, ident)
        by_visitor = self._lookup(self._by_visitor, visitor)
        if ident is None:
            if by_visitor is not None:
                return Resolution(by_visitor)
            key = visitor or msg.conversation_id or msg.message_id
            record = CustomerRecord(  # derived from the visitor id: not published either
                customer_id=customer_id_for("visitor", key),
                visitor_ids=(visitor,) if visitor else (), name=msg.sender.name, updated_at=at,
            )
            return Resolution(record)
        base = by_ident or CustomerRecord(
            customer_id=customer_id_for("identifier", ident), identifiers=(ident,),
            name=msg.sender.name, updated_at=at,
        )
        changed: list[CustomerRecord] = []
        if visitor and visitor not in base.visitor_ids:
            # the visitor chatted anonymously before (a stored or a derived customer): that
            # customer is merged into the verified one, so its tickets resolve to it
            anon = by_visitor or CustomerRecord(
                customer_id=customer_id_for("visitor", visitor), visitor_ids=(visitor,))
            if anon.customer_id != base.customer_id:
                base = _absorb(base, anon, at)
                changed.append(dataclasses.replace(
                    anon, merged_into=base.customer_id, updated_at=at))
            if visitor not in base.visitor_ids:
                base = dataclasses.replace(
                    base, visitor_ids=(*base.visitor_ids, visitor), updated_at=at)
        if by_ident is None or base != by_ident:
            changed.insert(0, base)
        return Resolution(base, tuple(changed))


def _older(new: CustomerRecord, held: CustomerRecord) -> bool:
    return (
        new.updated_at is not None and held.updated_at is not None
        and new.updated_at < held.updated_at
    )


def _merge_values(a: tuple[str, ...], b: tuple[str, ...]) -> tuple[str, ...]:
    return a + tuple(x for x in b if x not in a)


def _absorb(into: CustomerRecord, other: CustomerRecord, at: datetime) -> CustomerRecord:
    """``into`` keeps its attributes (the directory's word wins); gains ``other``'s ids."""
    return dataclasses.replace(
        into,
        emails=_merge_values(into.emails, other.emails),
        visitor_ids=_merge_values(into.visitor_ids, other.visitor_ids),
        identifiers=_merge_values(into.identifiers, other.identifiers),
        name=into.name or other.name,
        tier=into.tier or other.tier,
        title=into.title or other.title,
        company=into.company or other.company,
        language=into.language or other.language,
        attributes={**other.attributes, **into.attributes},
        updated_at=at,
    )
