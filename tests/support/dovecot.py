"""A real Dovecot IMAP server for tests: config in a temp dir, a free loopback port, real users
(passwd-file), Maildir mailboxes, plaintext auth allowed (loopback only). Started with
``dovecot -F -c <conf>`` and stopped when the fixture ends.

Needs Debian's ``dovecot-imapd``; tests skip when ``dovecot`` is not installed.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from imapclient import IMAPClient

from tests.support.servers import require

DOVECOT = shutil.which("dovecot") or ("/usr/sbin/dovecot" if Path("/usr/sbin/dovecot").exists()
                                      else None)
DOVEADM = shutil.which("doveadm") or ("/usr/bin/doveadm" if Path("/usr/bin/doveadm").exists()
                                      else None)
START_TIMEOUT_S = 20.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _accounts() -> tuple[str, int, int]:
    """The OS account the mail processes run as (Dovecot refuses root for mail access)."""
    if os.geteuid() != 0:
        me = pwd.getpwuid(os.geteuid())
        return me.pw_name, me.pw_uid, me.pw_gid
    nobody = pwd.getpwnam("nobody")
    return nobody.pw_name, nobody.pw_uid, nobody.pw_gid


def _oauth2(root: Path, introspection_url: str | None) -> tuple[str, str]:
    """Extra mechanisms and passdb for XOAUTH2, validated by an introspection endpoint."""
    if introspection_url is None:
        return "", ""
    (root / "oauth2.conf.ext").write_text(
        f"introspection_mode = post\nintrospection_url = {introspection_url}\n"
        "force_introspection = yes\nusername_attribute = username\n"
        "active_attribute = active\nactive_value = true\n")
    passdb = f"""
passdb {{
  driver = oauth2
  mechanisms = xoauth2 oauthbearer
  args = {root}/oauth2.conf.ext
}}
"""
    return " xoauth2 oauthbearer", passdb


def make_certificate(root: Path) -> Path:
    """A self-signed certificate for 127.0.0.1 (openssl comes with dovecot-core)."""
    cert, key = root / "cert.pem", root / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
         "-nodes", "-keyout", str(key), "-out", str(cert), "-days", "2", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True, capture_output=True, timeout=30,
    )
    return cert


def _tls(root: Path, tls_port: int | None) -> tuple[str, str]:
    """The ssl settings and the port of the implicit-TLS (imaps) listener."""
    if tls_port is None:
        return "ssl = no", "0"
    return (f"ssl = yes\nssl_cert = <{root}/cert.pem\nssl_key = <{root}/key.pem", str(tls_port))


def render_config(
    root: Path, port: int, oauth2_introspection_url: str | None = None,
    tls_port: int | None = None,
) -> str:
    user, uid, gid = _accounts()
    rootless = os.geteuid() != 0
    internal = user if rootless else "dovecot"
    login = user if rootless else "dovenull"
    no_chroot = "" if not rootless else """
service anvil {
  chroot =
}
service imap-login {
  chroot =
  user = $default_login_user
}
"""
    oauth2_mechs, oauth2_passdb = _oauth2(root, oauth2_introspection_url)
    ssl, imaps_port = _tls(root, tls_port)
    return f"""
protocols = imap
listen = 127.0.0.1
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
instance_name = helpline-test-{port}
{ssl}
disable_plaintext_auth = no
auth_mechanisms = plain login{oauth2_mechs}
default_internal_user = {internal}
default_login_user = {login}
first_valid_uid = 1
mail_location = maildir:{root}/mail/%u
mailbox_idle_check_interval = 1 secs
{oauth2_passdb}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {root}/users
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={root}/home/%u
}}
namespace inbox {{
  inbox = yes
  separator = /
  mailbox Sent {{
    special_use = \\Sent
  }}
}}
protocol imap {{
  mail_max_userip_connections = 200
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {imaps_port}
    ssl = yes
  }}
}}
{no_chroot}
"""


@dataclass
class Dovecot:
    root: Path
    port: int
    users: dict[str, str]
    host: str = "127.0.0.1"
    tls_port: int | None = None  # implicit TLS (imaps); STARTTLS is offered on ``port``
    certificate: Path | None = None
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def conf(self) -> Path:
        return self.root / "dovecot.conf"

    def client(self, user: str) -> IMAPClient:
        client = IMAPClient(self.host, port=self.port, ssl=False, timeout=30)
        client.login(user, self.users[user])
        return client

    def append(self, user: str, raw: bytes, folder: str = "INBOX") -> None:
        with self.client(user) as client:
            if not client.folder_exists(folder):
                client.create_folder(folder)
            client.append(folder, raw)

    def append_many(self, user: str, messages: list[bytes], folder: str = "INBOX") -> None:
        with self.client(user) as client:
            if not client.folder_exists(folder):
                client.create_folder(folder)
            for raw in messages:
                client.append(folder, raw)

    def uids(self, user: str, folder: str = "INBOX") -> list[int]:
        with self.client(user) as client:
            client.select_folder(folder, readonly=True)
            return sorted(int(u) for u in client.search("ALL"))

    def doveadm(self, *args: str) -> str:
        assert DOVEADM is not None
        done = subprocess.run([DOVEADM, "-c", str(self.conf), *args],
                              capture_output=True, check=False, timeout=30)
        if done.returncode != 0:
            raise RuntimeError(f"doveadm {' '.join(args)}: {done.stderr.decode(errors='replace')}")
        return done.stdout.decode(errors="replace")

    def set_uidvalidity(self, user: str, folder: str, value: int) -> None:
        self.doveadm("mailbox", "update", "-u", user, "--uid-validity", str(value), folder)

    def log(self) -> str:
        try:
            return (self.root / "dovecot.log").read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def start(self) -> None:
        assert DOVECOT is not None and self.process is None
        self.process = subprocess.Popen(
            [DOVECOT, "-F", "-c", str(self.conf)],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )
        _wait_listening(self.port, self.process, self.root)

    def stop(self) -> None:
        proc, self.process = self.process, None
        if proc is None or proc.poll() is not None:
            return
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


def _wait_listening(port: int, proc: subprocess.Popen[bytes], root: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            log = (root / "dovecot.log").read_text(errors="replace") if (
                root / "dovecot.log").exists() else ""
            err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
            raise RuntimeError(f"dovecot exited {proc.returncode}: {err}\n{log}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
                if s.recv(64).startswith(b"* OK"):
                    return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"dovecot did not listen on {port} within {START_TIMEOUT_S}s")


@contextmanager
def running_dovecot(
    users: dict[str, str] | None = None, oauth2_introspection_url: str | None = None,
    tls: bool = False,
) -> Iterator[Dovecot]:
    if DOVECOT is None:
        require("Dovecot", "apt-get install dovecot-imapd")
    users = users or {"support": "support-pass", "sales": "sales-pass"}
    root = Path(tempfile.mkdtemp(prefix="helpline-dovecot-"))
    os.chmod(root, 0o755)  # the unprivileged mail user must reach its Maildir
    _, uid, gid = _accounts()
    for sub in ("mail", "home"):
        (root / sub).mkdir()
        os.chown(root / sub, uid, gid)
    (root / "users").write_text("".join(f"{u}:{p}::::::\n" for u, p in users.items()))
    port = free_port()
    server = Dovecot(root, port, dict(users))
    if tls:
        server.certificate = make_certificate(root)
        server.tls_port = free_port()
    server.conf.write_text(
        render_config(root, port, oauth2_introspection_url, server.tls_port))
    try:
        server.start()
        yield server
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def dovecot() -> Iterator[Dovecot]:
    with running_dovecot() as server:
        yield server
