"""`helpline mailboxes check` against a real Dovecot: the server's own words for what fails."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest
import typer
from typer.testing import CliRunner

from ingest.imap.cli import check_mailbox, register
from ingest.settings import EmailSettings
from schemas.stage import KafkaConnection, StageContext
from tests.support import dovecot as dovecot_support
from tests.support.dovecot import Dovecot
from tests.support.imap_connector import mailbox_for

pytestmark = pytest.mark.integration
dovecot = dovecot_support.dovecot  # the fixture


def test_check_reports_login_idle_and_folders(dovecot: Dovecot) -> None:
    dovecot.append("support", b"Subject: hi\r\n\r\nhello\r\n")
    result = check_mailbox(mailbox_for(dovecot, folders=("INBOX", "Nope")))
    assert result.login and result.idle
    assert "IDLE" in result.capabilities
    inbox, nope = result.folders
    assert (inbox.ok, inbox.messages) == (True, 1)
    assert not nope.ok and "Mailbox doesn't exist" in nope.error  # Dovecot's words
    assert not result.ok


def test_wrong_password_in_the_servers_words(dovecot: Dovecot) -> None:
    result = check_mailbox(mailbox_for(dovecot, password="wrong"))
    assert not result.login
    assert "AUTHENTICATIONFAILED" in result.error


def test_cli_exit_codes_and_json(dovecot: Dovecot) -> None:
    settings = EmailSettings(mailboxes=(
        mailbox_for(dovecot, "support"), mailbox_for(dovecot, "sales", password="wrong")))
    ctx = StageContext(kafka=KafkaConnection("unused:9092"),
                       sections=SimpleNamespace(email=settings), signing_key=b"k")
    app = typer.Typer()
    register(app, lambda *_a, **_k: ctx)  # like runtime.cli.get_ctx, any arguments
    runner = CliRunner()
    ok = runner.invoke(app, ["mailboxes", "check", "support"])
    assert ok.exit_code == 0, ok.output
    assert "IDLE     yes" in ok.output
    bad = runner.invoke(app, ["mailboxes", "check", "--json"])
    assert bad.exit_code == 1
    rows = [json.loads(line) for line in bad.output.splitlines()]
    assert [(r["mailbox"], r["ok"]) for r in rows] == [("support", True), ("sales", False)]
