"""What an agent or a supervisor reads in a notice: the customer, the ticket's subject, its
priority, when the SLA falls due (in the reader's language and time zone) and a link to the
ticket in the console. Pure: the values the ``assignment`` / ``alert`` templates and their
digests receive.

The route stage puts the facts in the notification's context (``customer_name``,
``customer_address``, ``ticket_subject``, ``priority``, ``sla_due``, ``sla_metric``,
``reader_timezone``; ``due_at`` for SLA alerts); the language is the notification's.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from notify.hours import format_when, language_of

TITLES: Mapping[str, Mapping[str, str]] = {
    "en": {
        "escalation-alert": "Ticket escalated",
        "sla-warning": "SLA about to be breached",
        "sla-breach": "SLA breached",
        "supervisor-alert": "Supervisor alert",
        "assignment": "Assigned to you",
    },
    "fr": {
        "escalation-alert": "Ticket escaladé",
        "sla-warning": "SLA bientôt dépassé",
        "sla-breach": "SLA dépassé",
        "supervisor-alert": "Alerte superviseur",
        "assignment": "Attribué à vous",
    },
}
LABELS: Mapping[str, Mapping[str, str]] = {
    "en": {
        "ticket": "Ticket", "subject": "Subject", "customer": "Customer",
        "priority": "Priority", "due": "Due", "reason": "Why", "open": "Open it",
        "first-response": "first response", "next-response": "next response",
        "resolution": "resolution", "state-time": "time in state",
        "low": "low", "normal": "normal", "high": "high", "urgent": "urgent",
        "no_subject": "(no subject)",
    },
    "fr": {
        "ticket": "Ticket", "subject": "Objet", "customer": "Client",
        "priority": "Priorité", "due": "Échéance", "reason": "Motif", "open": "Ouvrir",
        "first-response": "première réponse", "next-response": "réponse suivante",
        "resolution": "résolution", "state-time": "temps dans l'état",
        "low": "basse", "normal": "normale", "high": "haute", "urgent": "urgente",
        "no_subject": "(sans objet)",
    },
}


def ticket_link(console_url: str, number: str) -> str:
    """The ticket in the agents' console, when one is configured."""
    base = console_url.strip().rstrip("/")
    return f"{base}/tickets/{number}" if base and number else ""


def customer_text(name: str, address: str) -> str:
    if name and address:
        return f"{name} <{address}>"
    return name or address


def _label(lang: str, key: str) -> str:
    return LABELS[lang].get(key, key)


def _due(c: Mapping[str, Any], lang: str, timezone: str) -> str:
    text = str(c.get("due_at") or c.get("sla_due") or "")
    if not text:
        return ""
    try:
        at = datetime.fromisoformat(text)
    except ValueError:
        return text
    metric = str(c.get("metric") or c.get("sla_metric") or "")
    when = format_when(at, lang, timezone)
    return f"{when}, {_label(lang, metric)}" if metric else when


def facts_lines(n_context: Mapping[str, Any], number: str, subject: str, lang: str,
                timezone: str, link: str) -> list[str]:
    """``Label: value`` lines, those with a value only."""
    c = n_context
    priority = str(c.get("priority") or "")
    rows = [
        ("ticket", number),
        ("subject", subject),
        ("customer", customer_text(str(c.get("customer_name") or ""),
                                   str(c.get("customer_address") or ""))),
        ("priority", _label(lang, priority) if priority else ""),
        ("due", _due(c, lang, timezone)),
        ("reason", str(c.get("reason") or "")),
        ("open", link),
    ]
    return [f"{_label(lang, k)}: {v}" if lang == "en" else f"{_label(lang, k)} : {v}"
            for k, v in rows if v]


def notice_values(kind: str, number: str, subject: str | None, context: Mapping[str, Any],
                  language: str, timezone: str, console_url: str) -> dict[str, str]:
    lang = language_of(language)
    title = TITLES[lang].get(kind, kind)
    # the ticket's own subject when route sent it (even empty); its notification subject is a
    # title ("[#HL-…] Ticket assigned to you"), shown only for producers that send no facts
    subj = str(context["ticket_subject"] or "") if "ticket_subject" in context else (subject or "")
    subj = subj or _label(lang, "no_subject")
    link = ticket_link(console_url, number) or str(context.get("url") or "")
    return {
        "alert_title": title,
        "ticket_number": number,
        "subject": subj,
        "facts": "\n".join(facts_lines(context, number, subj, lang, timezone, link)),
        "link_line": link,
    }


def digest_item(kind: str, number: str, subject: str | None,
                context: Mapping[str, Any]) -> dict[str, str]:
    """What a digest keeps of one held notice (plain JSON: it travels in the context)."""
    keep = ("ticket_subject", "customer_name", "customer_address", "priority", "sla_due",
            "sla_metric", "due_at", "metric", "reason", "url")
    item = {k: str(context[k]) for k in keep if context.get(k)}
    return {**item, "kind": kind, "ticket_number": number,
            "ticket_subject": item.get("ticket_subject") or (subject or "")}


def digest_lines(items: Sequence[Mapping[str, Any]], language: str, timezone: str,
                 console_url: str) -> str:
    """One block per held notice: '- [HL-…] subject — customer — priority — due' + link."""
    lang = language_of(language)
    out = []
    for it in items:
        number = str(it.get("ticket_number", ""))
        parts = [str(it.get("ticket_subject") or _label(lang, "no_subject"))]
        who = customer_text(str(it.get("customer_name") or ""),
                            str(it.get("customer_address") or ""))
        if who:
            parts.append(who)
        if it.get("priority"):
            parts.append(f"{_label(lang, 'priority').lower()} {_label(lang, str(it['priority']))}")
        due = _due(it, lang, timezone)
        if due:
            parts.append(f"{_label(lang, 'due').lower()} {due}")
        title = TITLES[lang].get(str(it.get("kind", "")), "")
        head = f"- [{number}] " + (f"{title}: " if title and it.get("kind") != "assignment"
                                   else "")
        line = head + " — ".join(parts)
        link = ticket_link(console_url, number) or str(it.get("url") or "")
        out.append(f"{line}\n  {link}" if link else line)
    return "\n".join(out)
