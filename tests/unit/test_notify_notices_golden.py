"""Agent notices that say something: each ``tests/golden/notify/notices/<case>.input.json``
holds the notifications as the route stage emits them (one: a notice; several for one agent:
the digest the notifier makes of them) and ``<case>.expected.json`` what the reader gets.
Regenerate after a deliberate wording change with ``HELPLINE_REGEN_GOLDEN=1``, then review."""

from __future__ import annotations

import os
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest

from notify.alerts import AlertDigests, digest_of
from notify.compose import Composer
from notify.render import BUNDLED, load_templates
from notify.settings import MailboxIdentity, NotifySettings
from notify.stage import token_maker
from schemas.codec import from_primitive
from schemas.notification import Notification
from tests.support.notify_builders import KEY

GOLDEN = Path(__file__).resolve().parents[1] / "golden" / "notify" / "notices"
CASES = sorted(p.name.removesuffix(".input.json") for p in GOLDEN.glob("*.input.json"))
SETTINGS = NotifySettings(
    mailboxes={"acme": MailboxIdentity(address="support@acme.test", display_name="ACME Support",
                                       timezone="Europe/Paris")},
    console_url="https://console.acme.test/", assignment_burst=1, assignment_window_s=120)


def notice_for(case: dict[str, Any]) -> dict[str, Any]:
    now = datetime.fromisoformat(case["now"])
    held = [from_primitive(Notification, n) for n in case["notifications"]]
    if len(held) == 1:
        n = held[0]
    else:  # through the digest rule: the first goes at once, the others are held
        digests = AlertDigests(3, 300, groups={"assignment": (0 + 1, 120)})
        at = [x.created_at.timestamp() for x in held]
        admitted = [digests.admit(x, t) for x, t in zip(held, at, strict=True)]
        assert admitted == [True] + [False] * (len(held) - 1)
        assert digests.due(now.timestamp()) == []  # the window is still open
        (due,) = digests.due((now + timedelta(seconds=120)).timestamp())
        n = digest_of(held, now)  # every one of them, as the golden shows
        assert [x.notification_id for x in due] == [x.notification_id for x in held[1:]]
    mail = Composer(load_templates(BUNDLED), SETTINGS, token_maker(KEY)).email(n, now).parsed()
    body = mail.get_body(("plain",))
    assert body is not None
    return {"to": str(mail["To"]), "subject": str(mail["Subject"]),
            "language": str(mail["Content-Language"]),
            "text": body.get_content().replace("\r\n", "\n")}


@pytest.mark.parametrize("case", CASES)
def test_golden_notice(case: str) -> None:
    got = notice_for(orjson.loads((GOLDEN / f"{case}.input.json").read_bytes()))
    path = GOLDEN / f"{case}.expected.json"
    if os.environ.get("HELPLINE_REGEN_GOLDEN"):
        path.write_bytes(orjson.dumps(got, option=orjson.OPT_INDENT_2) + b"\n")
    assert got == orjson.loads(path.read_bytes())
