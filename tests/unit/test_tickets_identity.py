"""Customer identity: email, visitor id, verified identifier, directory attributes."""

from __future__ import annotations

from schemas.directory import CustomerRecord
from schemas.topics import CUSTOMERS
from tests.support.tickets_builders import T0, chat, email, feed, make_stage, records
from tickets.identity import CustomerDirectory

VIP = CustomerRecord(customer_id="cust-ceo", emails=("ceo@acme.test",), identifiers=("u-42",),
                     tier="VIP", title="CEO", updated_at=T0)


def test_directory_customer_is_found_by_email_case_insensitively() -> None:
    d = CustomerDirectory()
    d.put(VIP)
    r = d.resolve(email("a1", "CEO@Acme.test"), T0)
    assert r.customer.customer_id == "cust-ceo" and r.changed == ()


def test_unknown_sender_becomes_a_new_deterministic_customer() -> None:
    d1, d2 = CustomerDirectory(), CustomerDirectory()
    a = d1.resolve(email("a1", "new@x.org"), T0)
    b = d2.resolve(email("a9", "new@x.org"), T0)
    assert a.customer == b.customer and a.changed == ()  # derived, nothing to publish
    assert a.customer.emails == ("new@x.org",)


def test_verified_identity_merges_the_anonymous_visitor() -> None:
    d = CustomerDirectory()
    d.put(VIP)
    anon = d.resolve(chat("hi", "conv1", visitor="v9"), T0)
    assert anon.changed == ()
    verified = d.resolve(chat("it's me", "conv1", visitor="v9", verified="U-42"), T0)
    merged, gone = verified.changed
    assert merged.customer_id == "cust-ceo" and "v9" in merged.visitor_ids
    assert merged.tier == "VIP"
    assert gone.customer_id == anon.customer.customer_id and gone.merged_into == "cust-ceo"
    for c in verified.changed:
        d.put(c)
    assert d.resolve(chat("again", "conv2", visitor="v9"), T0).customer.customer_id == "cust-ceo"
    assert d.get(anon.customer.customer_id) == d.get("cust-ceo")


def test_verified_email_identifier_finds_the_email_customer() -> None:
    d = CustomerDirectory()
    d.put(VIP)
    r = d.resolve(chat("hi", "c1", visitor="v1", verified="ceo@acme.test"), T0)
    assert r.customer.customer_id == "cust-ceo"


def test_typed_email_in_chat_does_not_borrow_an_identity() -> None:
    d = CustomerDirectory()
    d.put(VIP)
    r = d.resolve(chat("i am the ceo", "c1", visitor="v1", sender_email="ceo@acme.test"), T0)
    assert r.customer.customer_id != "cust-ceo" and r.customer.tier is None


def test_older_directory_record_does_not_overwrite_newer() -> None:
    import dataclasses
    from datetime import timedelta

    d = CustomerDirectory()
    d.put(VIP)
    d.put(dataclasses.replace(VIP, tier="basic", updated_at=T0 - timedelta(days=1)))
    assert d.get("cust-ceo").tier == "VIP"  # type: ignore[union-attr]


def test_resolve_id_is_resolve_without_the_record() -> None:
    d = CustomerDirectory()
    d.put(VIP)
    msgs = [email("a1", "CEO@Acme.test"), email("a2", "New@X.org"), email("a3", ""),
            chat("hi", "conv1", visitor="v9"),
            chat("it's me", "conv1", visitor="v9", verified="U-42")]
    for msg in msgs:
        who = d.resolve(msg, T0)
        assert d.resolve_id(msg, T0) == (who.customer.customer_id, who.changed)


def test_a_batch_writes_each_changed_customer_once_with_its_last_state() -> None:
    msgs = [chat("hello", "conv1", visitor="v1", verified="U-42"),
            chat("me again", "conv2", visitor="v2", verified="U-42")]
    batched = make_stage()
    outs = batched.process(records(msgs), T0)
    written = [o for o in outs if o.topic is CUSTOMERS]
    one_by_one = make_stage()
    singly = [o for o in feed(one_by_one, msgs) if o.topic is CUSTOMERS]
    last = {o.key: o.value for o in singly}  # what the compacted topic keeps
    assert len(singly) > len(last)  # the same customer changed twice
    assert {o.key: o.value for o in written} == last and len(written) == len(last)
    by_id = {o.key.decode(): o.value for o in written}
    assert all(batched.directory.get(cid) == rec  # the stage's own view is the same
               for cid, rec in by_id.items() if rec.merged_into is None)
