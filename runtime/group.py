"""How a stage's replicas share its input partitions (its consumer group).

Every stage: before partitions move to another replica (scaling up or down), the batch in
flight is settled (:class:`SettleBeforeRevoke`).

One active replica and warm standbys, for stages whose state is global.

The tickets stage threads a message against every ticket (a reply's References may name any of
them) and is the only writer of ``ticket.state``; route's agent capacity and SLA timers are
global too. Split over replicas, each would hold part of the truth and write the state table
over the other's. Such a stage declares ``single_writer = True`` and its runner joins the
group with :class:`ActiveStandbyAssignor`: every partition of its inputs goes to one member,
the others get none. A standby keeps restoring the stage's tables as the active writes them
(``runtime.tables.TableFeed.follow``), so when the active goes away — crash, drain, node loss —
the group rebalances, a standby is given every partition, reads its tables up to their current
end (:meth:`runtime.tables.TableFeed.current`) and carries on from the last committed offsets;
takeover costs the group's session timeout, not a restore of every ticket.
Tables only the stage writes (``own_tables``: ticket.state, route.state) are not fetched while a
replica is active (all there is its own, already in memory); a standby follows them.

Scaling such a stage therefore adds standbys, never a second writer. Which member is active is
sticky: a member that held the partitions says so in its join metadata and keeps them, so a
standby (re)joining does not move the work; with no claimant, the lowest member id wins, in a
new term. A replica cut off from the group long enough to be replaced comes back claiming an
older term and stays a standby. (What it may still write before it notices is not fenced:
that needs Kafka transactions; its records carry the same deterministic ids.)
"""

from __future__ import annotations

import struct
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any

from aiokafka import ConsumerRebalanceListener, TopicPartition
from aiokafka.cluster import ClusterMetadata
from aiokafka.coordinator.assignors.abstract import AbstractPartitionAssignor
from aiokafka.coordinator.protocol import (
    ConsumerProtocolMemberAssignment,
    ConsumerProtocolMemberMetadata,
)


class SettleBeforeRevoke(ConsumerRebalanceListener):  # type: ignore[misc]
    """Before partitions go to another replica (scaling up or down), the batch in flight is
    acknowledged and its offsets committed, so the new owner starts right after it."""

    def __init__(self, settle: Callable[[], Awaitable[None]]) -> None:
        self._settle = settle

    async def on_partitions_revoked(self, revoked: Any) -> None:
        await self._settle()

    async def on_partitions_assigned(self, assigned: Any) -> None:
        return None


# Join metadata and assignment user data: a "term" (which hand-over this is, counted by the
# group) and whether the member holds the partitions. The leader gives the work to the claimant
# of the highest term, so a replica that was cut off and comes back still claiming it (its
# term is older: another took over meanwhile) does not get it back.
_CLAIM = struct.Struct(">Q?")  # term, active


def encode_claim(term: int, active: bool) -> bytes:
    return _CLAIM.pack(term, active)


def decode_claim(data: bytes) -> tuple[int, bool]:
    """(term, active) from a member's metadata; anything else (an older helpline, garbage)
    reads as a standby that saw no term."""
    if len(data) != _CLAIM.size:
        return 0, False
    term, active = _CLAIM.unpack(data)
    return int(term), bool(active)


class ActiveStandbyAssignor(AbstractPartitionAssignor):  # type: ignore[misc]
    """Every subscribed partition to one member (sticky), nothing to the others.

    An instance per consumer (aiokafka calls ``metadata`` / ``on_assignment`` on the objects
    it is given): it remembers whether this member holds the partitions and the newest term
    it has seen, and tells the runner on every assignment, synchronously, before any record
    of it can be fetched."""

    name = "helpline-active-standby"
    version = 0

    def __init__(self, on_assignment: Callable[[set[TopicPartition]], None]) -> None:
        self.active = False
        self.term = 0
        self._on_assignment = on_assignment

    def metadata(self, topics: Iterable[str]) -> ConsumerProtocolMemberMetadata:
        return ConsumerProtocolMemberMetadata(
            self.version, sorted(topics), encode_claim(self.term, self.active))

    def assign(
        self,
        cluster: ClusterMetadata,
        members: Mapping[str, ConsumerProtocolMemberMetadata],
    ) -> dict[str, ConsumerProtocolMemberAssignment]:
        return assign_all_to_one(cluster, members, self.version)

    def on_assignment(self, assignment: ConsumerProtocolMemberAssignment) -> None:
        partitions = set(assignment.partitions())
        self.active = bool(partitions)
        self.term = max(self.term, decode_claim(assignment.user_data)[0])
        self._on_assignment(partitions)


def active_member(members: Mapping[str, ConsumerProtocolMemberMetadata]) -> tuple[str, int]:
    """The member that keeps (or gets) the work, and the term it holds it in: the claimant of
    the newest term (two claim the same term only if the group itself split; the lower id
    then); with no claimant, the lowest member id, in a new term."""
    claims = {m: decode_claim(meta.user_data) for m, meta in members.items()}
    claimants = [(-term, m) for m, (term, active) in claims.items() if active]
    if claimants:
        neg_term, member = min(claimants)
        return member, -neg_term
    return min(members), max(term for term, _ in claims.values()) + 1


def assign_all_to_one(
    cluster: ClusterMetadata,
    members: Mapping[str, ConsumerProtocolMemberMetadata],
    version: int = 0,
) -> dict[str, ConsumerProtocolMemberAssignment]:
    active, term = active_member(members)
    topics: dict[str, list[int]] = {}
    for topic in sorted(members[active].subscription):
        partitions = cluster.partitions_for_topic(topic)
        if partitions:  # unknown yet: the next metadata change rebalances the group
            topics[topic] = sorted(partitions)
    claim = encode_claim(term, False)  # every member learns the term
    return {
        member: ConsumerProtocolMemberAssignment(
            version, sorted(topics.items()) if member == active else [], claim)
        for member in members
    }
