"""The active/standby assignor of single-writer stages: every partition to one member, sticky
to the member that held them, nothing to the others."""

from __future__ import annotations

from aiokafka import TopicPartition
from aiokafka.coordinator.protocol import (
    ConsumerProtocolMemberAssignment,
    ConsumerProtocolMemberMetadata,
)

from runtime.group import ACTIVE_CLAIM, ActiveStandbyAssignor, active_member, assign_all_to_one

TOPICS = {"p.messages": {0, 1, 2, 3}, "p.ticket.commands": {0, 1}, "p.ticket.events": {0, 1}}


class Cluster:
    def partitions_for_topic(self, topic: str) -> set[int] | None:
        return TOPICS.get(topic)


def meta(claim: bool = False, topics: tuple[str, ...] = tuple(TOPICS)) -> (
        ConsumerProtocolMemberMetadata):
    return ConsumerProtocolMemberMetadata(0, list(topics), ACTIVE_CLAIM if claim else b"")


def owned(assignment: ConsumerProtocolMemberAssignment) -> set[TopicPartition]:
    return set(assignment.partitions())


ALL = {TopicPartition(t, p) for t, parts in TOPICS.items() for p in parts}


def test_one_member_gets_every_partition_of_every_topic() -> None:
    out = assign_all_to_one(Cluster(), {"m-b": meta(), "m-a": meta(), "m-c": meta()})  # type: ignore[arg-type]
    assert owned(out["m-a"]) == ALL  # nobody claims: the lowest member id
    assert owned(out["m-b"]) == set() and owned(out["m-c"]) == set()


def test_the_member_that_held_the_partitions_keeps_them() -> None:
    members = {"m-a": meta(), "m-b": meta(claim=True), "m-c": meta()}
    out = assign_all_to_one(Cluster(), members)  # type: ignore[arg-type]
    assert owned(out["m-b"]) == ALL
    assert not owned(out["m-a"]) and not owned(out["m-c"])


def test_two_claimants_after_a_split_still_make_one_active() -> None:
    members = {"m-c": meta(claim=True), "m-b": meta(claim=True), "m-a": meta()}
    assert active_member(members) == "m-b"
    out = assign_all_to_one(Cluster(), members)  # type: ignore[arg-type]
    assert sum(bool(owned(a)) for a in out.values()) == 1


def test_a_topic_without_metadata_yet_is_left_for_the_next_rebalance() -> None:
    out = assign_all_to_one(Cluster(), {"m-a": meta(topics=("p.messages", "p.unknown"))})  # type: ignore[arg-type]
    assert owned(out["m-a"]) == {TopicPartition("p.messages", p) for p in range(4)}


def test_the_assignor_claims_activity_in_its_next_join_and_reports_each_assignment() -> None:
    seen: list[set[TopicPartition]] = []
    assignor = ActiveStandbyAssignor(seen.append)
    assert assignor.metadata({"p.messages"}).user_data == b""
    assignor.on_assignment(ConsumerProtocolMemberAssignment(0, [("p.messages", [0, 1])], b""))
    assert assignor.active and seen[-1] == {TopicPartition("p.messages", 0),
                                            TopicPartition("p.messages", 1)}
    assert assignor.metadata({"p.messages"}).user_data == ACTIVE_CLAIM
    assignor.on_assignment(ConsumerProtocolMemberAssignment(0, [], b""))
    assert not assignor.active and seen[-1] == set()
    assert assignor.metadata({"p.messages"}).user_data == b""
    # the leader's assign goes through the same rule
    out = assignor.assign(Cluster(), {"m-a": meta(), "m-b": meta(claim=True)})  # type: ignore[arg-type]
    assert owned(out["m-b"]) == ALL
