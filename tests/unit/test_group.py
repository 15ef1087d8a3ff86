"""The active/standby assignor of single-writer stages: every partition to one member, sticky
to the member that held them, nothing to the others."""

from __future__ import annotations

from aiokafka import TopicPartition
from aiokafka.coordinator.protocol import (
    ConsumerProtocolMemberAssignment,
    ConsumerProtocolMemberMetadata,
)

from runtime.group import (
    ActiveStandbyAssignor,
    active_member,
    assign_all_to_one,
    decode_claim,
    encode_claim,
)

TOPICS = {"p.messages": {0, 1, 2, 3}, "p.ticket.commands": {0, 1}, "p.ticket.events": {0, 1}}


class Cluster:
    def partitions_for_topic(self, topic: str) -> set[int] | None:
        return TOPICS.get(topic)


def meta(claim: bool = False, term: int = 1, topics: tuple[str, ...] = tuple(TOPICS)) -> (
        ConsumerProtocolMemberMetadata):
    return ConsumerProtocolMemberMetadata(0, list(topics), encode_claim(term, claim))


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
    assert active_member(members) == ("m-b", 1)
    out = assign_all_to_one(Cluster(), members)  # type: ignore[arg-type]
    assert sum(bool(owned(a)) for a in out.values()) == 1


def test_a_replica_cut_off_and_replaced_does_not_get_the_work_back() -> None:
    # m-a held the work in term 3 and was cut off; m-b took over in term 4. m-a rejoins still
    # claiming: the newer term keeps it, whatever the member ids
    members = {"m-a": meta(claim=True, term=3), "m-b": meta(claim=True, term=4)}
    assert active_member(members) == ("m-b", 4)
    out = assign_all_to_one(Cluster(), members)  # type: ignore[arg-type]
    assert owned(out["m-b"]) == ALL and not owned(out["m-a"])


def test_a_takeover_without_claimant_opens_a_newer_term_every_member_learns() -> None:
    members = {"m-b": meta(term=4), "m-c": meta(term=2)}  # the active one left
    assert active_member(members) == ("m-b", 5)
    out = assign_all_to_one(Cluster(), members)  # type: ignore[arg-type]
    assert {decode_claim(a.user_data)[0] for a in out.values()} == {5}


def test_metadata_from_elsewhere_reads_as_a_standby_without_term() -> None:
    assert decode_claim(b"") == (0, False) and decode_claim(b"helpline-active") == (0, False)
    members = {"m-a": ConsumerProtocolMemberMetadata(0, list(TOPICS), b"junk"), "m-b": meta()}
    assert active_member(members)[0] == "m-a"  # nobody claims: the lowest id


def test_a_topic_without_metadata_yet_is_left_for_the_next_rebalance() -> None:
    out = assign_all_to_one(Cluster(), {"m-a": meta(topics=("p.messages", "p.unknown"))})  # type: ignore[arg-type]
    assert owned(out["m-a"]) == {TopicPartition("p.messages", p) for p in range(4)}


def test_the_assignor_claims_activity_in_its_next_join_and_reports_each_assignment() -> None:
    seen: list[set[TopicPartition]] = []
    assignor = ActiveStandbyAssignor(seen.append)
    assert decode_claim(assignor.metadata({"p.messages"}).user_data) == (0, False)
    assignor.on_assignment(ConsumerProtocolMemberAssignment(
        0, [("p.messages", [0, 1])], encode_claim(7, False)))
    assert assignor.active and seen[-1] == {TopicPartition("p.messages", 0),
                                            TopicPartition("p.messages", 1)}
    assert decode_claim(assignor.metadata({"p.messages"}).user_data) == (7, True)
    assignor.on_assignment(ConsumerProtocolMemberAssignment(0, [], encode_claim(8, False)))
    assert not assignor.active and seen[-1] == set()
    assert decode_claim(assignor.metadata({"p.messages"}).user_data) == (8, False)
    # the leader's assign goes through the same rule
    out = assignor.assign(Cluster(), {"m-a": meta(), "m-b": meta(claim=True)})  # type: ignore[arg-type]
    assert owned(out["m-b"]) == ALL
