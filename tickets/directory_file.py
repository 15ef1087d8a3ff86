"""The operator's customer directory file (CSV or JSON) as :class:`schemas.CustomerRecord`s.
Pure: text in, records out; errors name the row.

Columns / keys: ``customer_id`` (optional: derived from the first email, the same id the
tickets stage gives an unknown sender, so the file and the mail agree), ``email`` / ``emails``,
``visitor_ids``, ``identifiers``, ``name``, ``tier``, ``title``, ``company``, ``language``;
list cells are separated by ``;`` or ``|``. Any other column becomes an attribute.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import orjson

from schemas.directory import CustomerRecord
from schemas.errors import HelplineError
from tickets.numbers import customer_id_for

_LISTS = {"email": "emails", "emails": "emails", "visitor_ids": "visitor_ids",
          "visitor_id": "visitor_ids", "identifiers": "identifiers", "identifier": "identifiers"}
_SCALARS = ("name", "tier", "title", "company", "language")
_SPLIT = re.compile(r"[;|]")


class DirectoryFileError(HelplineError, ValueError):
    """A directory file that cannot be read; names the row."""


def _values(raw: Any) -> list[str]:
    if raw is None:
        return []
    items = raw if isinstance(raw, list) else _SPLIT.split(str(raw))
    return [str(x).strip() for x in items if str(x).strip()]


def to_record(row: Mapping[str, Any], at: datetime, where: str) -> CustomerRecord:
    lists: dict[str, list[str]] = {"emails": [], "visitor_ids": [], "identifiers": []}
    scalars: dict[str, str | None] = {}
    attributes: dict[str, str] = {}
    customer_id = str(row.get("customer_id") or "").strip()
    for key, value in row.items():
        k = str(key).strip().lower()
        if k == "customer_id":
            continue
        if k in _LISTS:
            lists[_LISTS[k]].extend(_values(value))
        elif k in _SCALARS:
            scalars[k] = str(value).strip() if value not in (None, "") else None
        elif value not in (None, ""):
            attributes[k] = str(value)
    emails = [e.lower() for e in lists["emails"]]
    if not customer_id:
        if not emails:
            raise DirectoryFileError(f"{where}: needs a customer_id or an email")
        customer_id = customer_id_for("email", emails[0])
    return CustomerRecord(
        customer_id=customer_id, emails=tuple(dict.fromkeys(emails)),
        visitor_ids=tuple(lists["visitor_ids"]),
        identifiers=tuple(i.lower() for i in lists["identifiers"]),
        name=scalars.get("name") or "", tier=scalars.get("tier"), title=scalars.get("title"),
        company=scalars.get("company"), language=scalars.get("language"),
        attributes=attributes, updated_at=at,
    )


def parse(text: str, fmt: str, at: datetime) -> list[CustomerRecord]:
    """Records of a ``csv`` or ``json`` directory file (``at`` stamps ``updated_at``)."""
    if fmt == "csv":
        rows: list[Any] = list(csv.DictReader(io.StringIO(text)))
    elif fmt == "json":
        try:
            data = orjson.loads(text)
        except orjson.JSONDecodeError as exc:
            raise DirectoryFileError(f"not JSON: {exc}") from None
        rows = data.get("customers", []) if isinstance(data, dict) else data
        if not isinstance(rows, list):
            raise DirectoryFileError("expected a list of customers or {\"customers\": [...]}")
    else:
        raise DirectoryFileError(f"unknown format {fmt!r} (csv or json)")
    out = []
    for i, row in enumerate(rows, start=1):
        if not isinstance(row, dict):
            raise DirectoryFileError(f"row {i}: expected an object")
        out.append(to_record(row, at, f"row {i}"))
    return out
