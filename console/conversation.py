"""A message's text split into what the customer wrote now, the quoted history and the
signature, so the ticket page can show the first and fold the others. Pure."""

from __future__ import annotations

import re
from dataclasses import dataclass

# "On Tue, 3 Mar 2026, Alice <a@b> wrote:", "Le 3 mars 2026 à 10:00, Alice a écrit :",
# Outlook's "-----Original Message-----" / "From: …" header block.
_ATTRIBUTION = re.compile(
    r"^(on\b.{0,300}\bwrote:|le\b.{0,300}\ba écrit\s?:|-{2,}\s*(original message|message "
    r"d'origine|forwarded message|message transféré)\s*-{2,})\s*$",
    re.IGNORECASE,
)
_OUTLOOK_FROM = re.compile(r"^(from|de)\s?:\s.+$", re.IGNORECASE)
_SIGNATURE = ("-- ", "--", "__")
_SENT_FROM = re.compile(r"^(sent from my|envoyé de mon)\b", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Parts:
    body: str
    quoted: str = ""
    signature: str = ""


def split_message(text: str) -> Parts:
    lines = text.replace("\r\n", "\n").split("\n")
    cut = len(lines)
    for i, line in enumerate(lines):
        stripped = line.strip()
        if _ATTRIBUTION.match(stripped) or (
            stripped.startswith(">") and all(
                not rest.strip() or rest.lstrip().startswith(">") for rest in lines[i:])):
            cut = i
            break
        if _OUTLOOK_FROM.match(stripped) and i > 0 and not lines[i - 1].strip() and any(
                re.match(r"^(sent|envoyé|to|à|subject|objet)\s?:", later.strip(), re.I)
                for later in lines[i + 1:i + 4]):
            cut = i
            break
    head, quoted = lines[:cut], lines[cut:]
    sig_at = len(head)
    for i, line in enumerate(head):
        if (line.rstrip("\n") in _SIGNATURE and i > 0) or _SENT_FROM.match(line.strip()):
            sig_at = i
            break
    body, signature = head[:sig_at], head[sig_at:]
    return Parts("\n".join(body).strip("\n"), "\n".join(quoted).strip("\n"),
                 "\n".join(signature).strip("\n"))
