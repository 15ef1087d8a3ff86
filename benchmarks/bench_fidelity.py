"""Email fidelity: does helpline read the same sender, subject, body and attachment names as
independent parsers? One JSON object.

References, run on the same bytes:

* ``stdlib``: Python's ``email`` package with ``policy.default`` — ``msg["from"].addresses``,
  ``str(msg["subject"])``, ``get_body(("plain", "html")).get_content()`` (HTML reduced to
  its text with ``html.parser``), and the file names of the parts that are not the body;
* ``mail_parser``: PyPI ``mail-parser`` — ``from_``, ``subject``, ``text_plain`` (else
  ``text_html``), ``attachments[].filename``.

Corpora: ``tests/golden/email/fidelity`` (hand-written, each with the expectation a person
read off the message) and ``../shared/corpus/email`` (skipped, with the reason, when absent).

Per field and reference: the share of messages where both sides agree (attachments: the
non-empty names, as multisets). Where they disagree on
a fidelity message, the golden expectation says who is right (``helpline``, ``reference``,
``neither``). Body agreement compares words, not layout: helpline's full body (``text`` +
``quoted`` + ``signature``) and the reference's body as multisets of words (URLs dropped,
case folded) must share ``BODY_AGREEMENT`` of the larger. Also counted: crashes of each
parser, and helpline texts with replacement characters, encoded words, ESC or base64 blocks.

Usage: python benchmarks/bench_fidelity.py [--examples N]
"""

from __future__ import annotations

import argparse
import email
import html.parser
import json
import logging
import re
import sys
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from ingest.mime import UnparseableEmail, parse_email  # noqa: E402
from tests.support.email_corpus import looks_like_mail  # noqa: E402

FIDELITY = ROOT / "tests" / "golden" / "email" / "fidelity"
SHARED = ROOT.parent / "shared" / "corpus" / "email"
T0 = datetime(2026, 1, 1, tzinfo=UTC)
FIELDS = ("from", "name", "subject", "body", "attachments")
BODY_AGREEMENT = 0.9
_WORD = re.compile(r"\w+")
_URL = re.compile(r"<?\bhttps?://[^\s>]+>?|\bmailto:\S+")
_WS = re.compile(r"\s+")
_UNDECODED = re.compile(r"\x1b|=\?[\w-]+\?[bqBQ]\?")
_BASE64_LINE = re.compile(r"(?m)^[A-Za-z0-9+/]{40,}={0,2}$")


def undecoded(text: str) -> bool:
    """An ESC sequence, an encoded word, or a line that is base64 (its alphabet, 40+ long,
    upper and lower case and digits mixed: hex or a long word is not)."""
    if _UNDECODED.search(text):
        return True
    return any(
        re.search("[a-z]", m.group()) and re.search("[A-Z]", m.group())
        and re.search("[0-9]", m.group())
        for m in _BASE64_LINE.finditer(text)
    )


@dataclass
class Reading:
    """What one parser read from one message (None: the parser has no value for the field)."""

    fields: dict[str, Any] = field(default_factory=dict)
    crashed: str | None = None


# ---- normalization shared by all sides -------------------------------------------------


def _norm(value: Any) -> Any:
    if isinstance(value, str):
        return _WS.sub(" ", value).strip().strip('"').strip()
    return value


def _words(text: str) -> Counter[str]:
    return Counter(w.casefold() for w in _WORD.findall(_URL.sub(" ", text)))


def body_agrees(a: str, b: str) -> bool:
    wa, wb = _words(a), _words(b)
    if not wa and not wb:
        return True
    shared = sum((wa & wb).values())
    return shared >= BODY_AGREEMENT * max(sum(wa.values()), sum(wb.values()))


def body_covers(ours: str, reference: str) -> bool:
    """helpline's body holds the reference's words (and possibly more: every inline text
    part, a forwarded message, the parts of a multipart whose boundary was wrong)."""
    wo, wr = _words(ours), _words(reference)
    return sum((wo & wr).values()) >= BODY_AGREEMENT * sum(wr.values())


def agrees(name: str, ours: Any, theirs: Any) -> bool:
    if name == "body":
        return body_agrees(ours or "", theirs or "")
    if name == "attachments":
        # names are compared; whether a nameless part (an inline image, a returned message)
        # is listed is a policy, not a reading, and the parsers differ on it
        return sorted(n for n in map(_norm, ours or []) if n) == sorted(
            n for n in map(_norm, theirs or []) if n
        )
    if name == "from":
        return (ours or "").lower() == (theirs or "").lower()
    return _norm(ours or "") == _norm(theirs or "")


class _TextOf(html.parser.HTMLParser):
    _SKIP = frozenset({"script", "style", "head", "title"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self.skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self._SKIP:
            self.skip += 1
        self.out.append(" ")

    def handle_endtag(self, tag: str) -> None:
        if tag in self._SKIP and self.skip:
            self.skip -= 1
        self.out.append(" ")

    def handle_data(self, data: str) -> None:
        if not self.skip:
            self.out.append(data)


def html_text(markup: str) -> str:
    p = _TextOf()
    try:
        p.feed(markup)
        p.close()
    except Exception:
        return markup
    return "".join(p.out)


# ---- the three parsers ----------------------------------------------------------------


def read_helpline(raw: bytes) -> Reading:
    try:
        m = parse_email(raw, mailbox="support@helpline.example", received_at=T0)
    except UnparseableEmail as exc:
        return Reading(crashed=f"unparseable: {exc.reason}")
    except Exception as exc:  # the contract says this never happens; count it if it does
        return Reading(crashed=f"{type(exc).__name__}: {exc}")
    full = "\n\n".join(x for x in (m.text, m.signature, m.quoted) if x)
    return Reading({
        "from": m.sender.address, "name": m.sender.name, "subject": m.subject,
        "body": full, "attachments": [a.filename for a in m.attachments],
        "_text": m.text, "_quoted": m.quoted, "_signature": m.signature,
        "_report": m.flags.bounce is not None,
    })


def _leaves(msg: EmailMessage) -> list[EmailMessage]:
    """The parts a reader sees: leaves of the tree, an attached message counting as one."""
    out: list[EmailMessage] = []
    stack = [msg]
    while stack:
        part = stack.pop()
        if part.is_multipart() and part.get_content_maintype() == "multipart":
            stack.extend(reversed([p for p in part.iter_parts() if isinstance(p, EmailMessage)]))
        else:
            out.append(part)
    return out


def read_stdlib(raw: bytes) -> Reading:
    try:
        msg = email.message_from_bytes(raw, policy=policy.default)
        assert isinstance(msg, EmailMessage)
        out: dict[str, Any] = {}
        try:
            addrs = msg["from"].addresses if msg["from"] is not None else ()
        except Exception:
            addrs = ()
        out["from"] = addrs[0].addr_spec if addrs else ""
        out["name"] = addrs[0].display_name if addrs else ""
        out["subject"] = str(msg["subject"] or "")
        body_part = msg.get_body(preferencelist=("plain", "html"))
        body = ""
        if body_part is not None:
            content = body_part.get_content()
            body = content if isinstance(content, str) else ""
            if body_part.get_content_type() == "text/html":
                body = html_text(body)
        out["body"] = body
        out["attachments"] = [
            part.get_filename() or ""
            for part in _leaves(msg)
            if part is not body_part
            and (part.get_content_disposition() == "attachment" or part.get_filename()
                 or part.get_content_type() == "message/rfc822")
        ]
        return Reading(out)
    except Exception as exc:
        return Reading(crashed=f"{type(exc).__name__}: {str(exc)[:120]}")


def _mail_parser() -> Callable[[bytes], Reading]:
    import mailparser

    logging.getLogger("mailparser").setLevel(logging.CRITICAL)

    def read(raw: bytes) -> Reading:
        try:
            mail = mailparser.parse_from_bytes(raw)
            sender = mail.from_[0] if mail.from_ else ("", "")
            plain = "\n".join(mail.text_plain)
            body = plain if plain.strip() else html_text("\n".join(mail.text_html))
            return Reading({
                "from": sender[1], "name": sender[0], "subject": mail.subject or "",
                "body": body,
                "attachments": [a.get("filename") or "" for a in mail.attachments],
            })
        except Exception as exc:
            return Reading(crashed=f"{type(exc).__name__}: {str(exc)[:120]}")

    return read


# ---- the report -----------------------------------------------------------------------


def _golden(path: Path) -> dict[str, Any] | None:
    exp = path.with_suffix(".json")
    if not exp.exists():
        return None
    data = json.loads(exp.read_text(encoding="utf-8"))
    full = "\n\n".join(x for x in (data["text"], data["signature"], data["quoted"]) if x)
    return {
        "from": data["sender"]["address"], "name": data["sender"]["name"],
        "subject": data["subject"], "body": full, "attachments": data["attachments"],
    }


def _judge(name: str, ours: Any, theirs: Any, golden: dict[str, Any]) -> str:
    ours_right = agrees(name, ours, golden[name])
    theirs_right = agrees(name, theirs, golden[name])
    if ours_right and not theirs_right:
        return "helpline"
    if theirs_right and not ours_right:
        return "reference"
    return "both" if ours_right else "neither"


def _corpus(name: str, root: Path, files: list[Path], refs: dict[str, Callable[[bytes], Reading]],
            examples: int) -> dict[str, Any]:
    crashes: Counter[str] = Counter()
    agree: dict[str, Counter[str]] = {r: Counter() for r in refs}
    compared: dict[str, Counter[str]] = {r: Counter() for r in refs}
    verdicts: dict[str, dict[str, Counter[str]]] = {
        r: {f: Counter() for f in FIELDS} for r in refs
    }
    samples: dict[str, dict[str, list[str]]] = {r: {f: [] for f in FIELDS} for r in refs}
    replaced: list[str] = []
    undecoded_texts: list[str] = []
    undecoded_in_reports: list[str] = []
    covers: Counter[str] = Counter()
    kinds: dict[str, Counter[str]] = {r: Counter() for r in refs}
    lacks: dict[str, list[str]] = {r: [] for r in refs}
    golden_match: Counter[str] = Counter()
    goldens = 0
    for path in files:
        raw = path.read_bytes()
        key = path.relative_to(root).as_posix()
        ours = read_helpline(raw)
        if ours.crashed is not None:
            crashes["helpline"] += 1
            continue
        text = ours.fields["_text"] + ours.fields["_quoted"] + ours.fields["_signature"]
        if "\ufffd" in text:
            replaced.append(key)
        if undecoded(text):
            # a bounce quotes the returned message's raw header lines: that is its content
            (undecoded_in_reports if ours.fields["_report"] else undecoded_texts).append(key)
        golden = _golden(path) if name == "fidelity" else None
        if golden is not None:
            goldens += 1
            for f in FIELDS:
                golden_match[f] += agrees(f, ours.fields[f], golden[f])
        for ref_name, read in refs.items():
            theirs = read(raw)
            if theirs.crashed is not None:
                crashes[ref_name] += 1
                continue
            holds = body_covers(ours.fields["body"], theirs.fields["body"])
            if holds:
                covers[ref_name] += 1
            elif len(lacks[ref_name]) < examples:
                lacks[ref_name].append(key)
            if not agrees("body", ours.fields["body"], theirs.fields["body"]):
                # read case by case, the first kind was helpline showing more of the mail
                # (every inline text part, the forwarded message, parts behind a wrong
                # boundary); the second is listed in body_lacks_*_words_examples
                kinds[ref_name]["helpline_holds_reference_and_more" if holds
                                else "reference_has_words_helpline_lacks"] += 1
            for f in FIELDS:
                compared[ref_name][f] += 1
                if agrees(f, ours.fields[f], theirs.fields[f]):
                    agree[ref_name][f] += 1
                    continue
                if golden is not None:
                    verdicts[ref_name][f][_judge(f, ours.fields[f], theirs.fields[f], golden)] += 1
                if len(samples[ref_name][f]) < examples:
                    samples[ref_name][f].append(key)
    report: dict[str, Any] = {
        "messages": len(files),
        "crashes": {"helpline": crashes["helpline"], **{r: crashes[r] for r in refs}},
        "helpline_texts_with_undecoded_encodings": len(undecoded_texts),
        "undecoded_examples": undecoded_texts[:examples],
        # bytes that decode in no plausible charset (the sender's mail was damaged) are
        # shown as U+FFFD; listed so each can be read
        "helpline_texts_with_replacement_characters": len(replaced),
        "replacement_examples": replaced[:examples],
        "bounce_reports_quoting_undecoded_headers": len(undecoded_in_reports),
    }
    if goldens:
        report["helpline_matches_golden"] = {
            f: round(golden_match[f] / goldens, 3) for f in FIELDS
        }
    for r in refs:
        report[f"agreement_with_{r}"] = {
            f: round(agree[r][f] / compared[r][f], 3) if compared[r][f] else None for f in FIELDS
        }
        if goldens:
            report[f"disagreements_with_{r}_right_by_golden"] = {
                f: dict(verdicts[r][f]) for f in FIELDS if verdicts[r][f]
            }
        report[f"body_holds_{r}_body"] = (
            round(covers[r] / compared[r]["body"], 3) if compared[r]["body"] else None
        )
        report[f"body_lacks_{r}_words_examples"] = lacks[r]
        report[f"body_disagreements_with_{r}_by_kind"] = dict(kinds[r])
        report[f"disagreement_examples_{r}"] = {f: v for f, v in samples[r].items() if v}
    return report


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--examples", type=int, default=8,
                        help="disagreeing messages listed per field")
    args = parser.parse_args()
    refs = {"stdlib": read_stdlib, "mail_parser": _mail_parser()}
    result: dict[str, Any] = {"benchmark": "email_fidelity", "body_agreement_threshold":
                              BODY_AGREEMENT}
    result["fidelity_corpus"] = _corpus(
        "fidelity", FIDELITY, sorted(FIDELITY.glob("*.eml")), refs, args.examples
    )
    if SHARED.is_dir():
        files = sorted(p for p in SHARED.rglob("*") if p.is_file()
                       and looks_like_mail(p.read_bytes()))
        result["shared_corpus"] = _corpus("shared", SHARED, files, refs, args.examples)
    else:
        result["shared_corpus"] = {"skipped": "../shared/corpus/email not present"}
    print(json.dumps(result, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
