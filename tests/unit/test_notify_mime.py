"""The outbound mail bytes: any text survives, headers are encoded and folded, output is
deterministic."""

from __future__ import annotations

from email import message_from_bytes, policy

from hypothesis import given, settings
from hypothesis import strategies as st

from notify.mime import address, assemble


def _parse(raw: bytes):  # type: ignore[no-untyped-def]
    return message_from_bytes(raw, policy=policy.default)


@settings(max_examples=200)
@given(text=st.text(), html=st.one_of(st.none(), st.text()), subject=st.text(max_size=300))
def test_any_text_round_trips(text: str, html: str | None, subject: str) -> None:
    subject = " ".join(subject.split())
    raw = assemble([("Subject", subject), ("From", address("Zoë", "z@x.test"))], text, html,
                   "<id@x>")
    assert all(len(line) <= 998 for line in raw.split(b"\r\n"))
    msg = _parse(raw)
    assert " ".join(str(msg["Subject"]).split()) == subject
    body = msg.get_body(("plain",))
    norm = text.replace("\r\n", "\n").replace("\r", "\n")
    got = body.get_content().replace("\r\n", "\n") if body is not None else None
    if html is None:  # a single part ends with the mail's final line break
        got, norm = (got or "").rstrip("\n"), norm.rstrip("\n")
    assert got == norm
    if html is not None:
        part = msg.get_body(("html",))
        assert part is not None
        assert part.get_content().replace("\r\n", "\n") == html.replace("\r\n", "\n").replace(
            "\r", "\n")


def test_deterministic_and_long_references_are_folded() -> None:
    refs = "\r\n ".join(f"<ref-{i}-{'x' * 40}@mail.example>" for i in range(20))
    fields = [("Message-ID", "<a@b>"), ("References", refs),
              ("Subject", "Réponse à votre demande " * 5)]
    a = assemble(fields, "hello", "<p>hello</p>", "<a@b>")
    assert a == assemble(fields, "hello", "<p>hello</p>", "<a@b>")
    assert all(len(line) <= 998 for line in a.split(b"\r\n"))
    msg = _parse(a)
    assert len(str(msg["References"]).split()) == 20
    assert str(msg["Subject"]).startswith("Réponse à votre demande")

