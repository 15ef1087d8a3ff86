"""TLS to a real Dovecot: implicit TLS (imaps) and STARTTLS, certificate checking on by
default, and a certificate problem reported as a connection problem in OpenSSL's words."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ingest.imap.cli import check_mailbox
from tests.support.dovecot import Dovecot, running_dovecot
from tests.support.imap_connector import mailbox_for

pytestmark = pytest.mark.integration


@pytest.fixture
def tls_dovecot() -> Iterator[Dovecot]:
    with running_dovecot(tls=True) as server:
        yield server


def test_implicit_tls_with_the_servers_certificate(tls_dovecot: Dovecot) -> None:
    assert tls_dovecot.tls_port and tls_dovecot.certificate
    result = check_mailbox(mailbox_for(
        tls_dovecot, port=tls_dovecot.tls_port, security="ssl",
        tls_ca_file=str(tls_dovecot.certificate)))
    assert result.login, result.error
    assert result.idle


def test_starttls_upgrades_the_plain_port(tls_dovecot: Dovecot) -> None:
    result = check_mailbox(mailbox_for(
        tls_dovecot, security="starttls", tls_ca_file=str(tls_dovecot.certificate)))
    assert result.login, result.error


def test_unknown_certificate_is_refused_unless_verification_is_off(
    tls_dovecot: Dovecot
) -> None:
    assert tls_dovecot.tls_port
    refused = check_mailbox(mailbox_for(tls_dovecot, port=tls_dovecot.tls_port, security="ssl"))
    assert not refused.login
    assert "CERTIFICATE_VERIFY_FAILED" in refused.error
    unchecked = check_mailbox(mailbox_for(
        tls_dovecot, port=tls_dovecot.tls_port, security="ssl", tls_verify=False))
    assert unchecked.login, unchecked.error
