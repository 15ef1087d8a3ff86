"""The chat API's request bodies, validated into frozen values, and its error bodies. Pure.

Every rejection says what was wrong in words a site developer can act on::

    {"error": {"code": "message-too-long", "message": "text is longer than 4000 characters",
               "field": "text"}}
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

from ingest.chat.settings import ChatSettings
from schemas.errors import HelplineError

_MESSAGE_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_EMAIL = re.compile(r"^[^@\s<>\"]{1,64}@[^@\s<>\"]+\.[^@\s<>\"]+$")
_LOCALE = re.compile(r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$")
_FIELD_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,40}$")
MAX_IDENTIFIER = 256
MAX_URL = 2048


class Rejection(HelplineError):
    """A request the service refuses; becomes an HTTP error with a JSON body. (A plain class:
    exceptions get their traceback assigned, which a frozen dataclass would refuse.)"""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        field: str | None = None,
        retry_after_s: int | None = None,
    ) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.field = field
        self.retry_after_s = retry_after_s

    def body(self) -> bytes:
        err: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.field:
            err["field"] = self.field
        if self.retry_after_s is not None:
            err["retry_after"] = self.retry_after_s
        return orjson.dumps({"error": err})

    def headers(self) -> dict[str, str]:
        if self.retry_after_s is None:
            return {}
        return {"Retry-After": str(self.retry_after_s)}


@dataclass(frozen=True, slots=True)
class Contact:
    """What the visitor told about themselves (pre-chat or offline form)."""

    name: str | None = None
    email: str | None = None
    locale: str | None = None
    page_url: str | None = None


@dataclass(frozen=True, slots=True)
class StartConversation:
    contact: Contact
    visitor_token: str | None = None
    identifier: str | None = None
    identifier_hash: str | None = None


@dataclass(frozen=True, slots=True)
class PostMessage:
    message_id: str
    text: str
    contact: Contact
    fields: Mapping[str, str] = field(default_factory=dict)


def parse_json(body: bytes) -> Mapping[str, Any]:
    if not body.strip():
        return {}
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise Rejection(400, "invalid-json", f"the body is not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise Rejection(422, "invalid-body", "the body must be a JSON object")
    return data


def _text(data: Mapping[str, Any], name: str, limit: int, *, required: bool = False) -> str | None:
    value = data.get(name)
    if value is None or (value == "" and not required):
        if required:
            raise Rejection(422, "missing-field", f"{name} is required", name)
        return None
    if not isinstance(value, str):
        raise Rejection(422, "invalid-field", f"{name} must be a string", name)
    if len(value) > limit:
        code = "message-too-long" if name == "text" else "field-too-long"
        raise Rejection(422, code, f"{name} is longer than {limit} characters", name)
    if "\x00" in value:
        raise Rejection(422, "invalid-field", f"{name} contains a NUL character", name)
    return value


def _contact(data: Mapping[str, Any], settings: ChatSettings) -> Contact:
    name = _text(data, "name", settings.max_name_chars)
    email = _text(data, "email", 254)
    if email is not None:
        email = email.strip()
        if not _EMAIL.match(email):
            raise Rejection(422, "invalid-email", "email is not an email address", "email")
    locale = _text(data, "locale", 35)
    if locale is not None and not _LOCALE.match(locale):
        raise Rejection(422, "invalid-locale", "locale must look like 'fr' or 'en-GB'", "locale")
    page_url = _text(data, "page_url", MAX_URL)
    if page_url is not None and not page_url.startswith(("http://", "https://")):
        raise Rejection(422, "invalid-url", "page_url must be an http(s) URL", "page_url")
    return Contact(
        name=name.strip() if name else None, email=email, locale=locale, page_url=page_url
    )


def start_conversation(data: Mapping[str, Any], settings: ChatSettings) -> StartConversation:
    identifier = _text(data, "identifier", MAX_IDENTIFIER)
    given_hash = _text(data, "identifier_hash", 128)
    if given_hash is not None and identifier is None:
        raise Rejection(422, "missing-field", "identifier_hash needs an identifier", "identifier")
    return StartConversation(
        contact=_contact(data, settings),
        visitor_token=_text(data, "visitor_token", 2048),
        identifier=identifier,
        identifier_hash=given_hash,
    )


def post_message(data: Mapping[str, Any], settings: ChatSettings) -> PostMessage:
    message_id = _text(data, "message_id", 64, required=True)
    assert message_id is not None
    if not _MESSAGE_ID.match(message_id):
        raise Rejection(
            422, "invalid-message-id", "message_id must be 1-64 of A-Z a-z 0-9 _ -", "message_id"
        )
    text = _text(data, "text", settings.max_message_chars, required=True)
    assert text is not None
    if not text.strip():
        raise Rejection(422, "empty-message", "text is empty", "text")
    raw_fields = data.get("fields")
    if raw_fields is None:
        raw_fields = {}
    if not isinstance(raw_fields, dict):
        raise Rejection(422, "invalid-field", "fields must be an object of strings", "fields")
    if len(raw_fields) > settings.max_fields:
        raise Rejection(422, "too-many-fields", f"at most {settings.max_fields} fields", "fields")
    fields: dict[str, str] = {}
    for key, value in raw_fields.items():
        if not _FIELD_NAME.match(key) or not isinstance(value, str | bool | int):
            raise Rejection(422, "invalid-field", f"fields.{key[:40]} is not valid", "fields")
        if len(str(value)) > settings.max_field_chars:
            raise Rejection(422, "field-too-long", f"fields.{key} is too long", "fields")
        fields[key] = str(value).lower() if isinstance(value, bool) else str(value)
    return PostMessage(
        message_id=message_id, text=text, contact=_contact(data, settings), fields=fields
    )
