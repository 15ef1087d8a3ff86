"""``helpline mailboxes check``: log in to every configured mailbox and say, in the server's own
words, what works: login, IDLE, each folder (UIDVALIDITY, message count), the move-to folder.

Exit code 0 when every mailbox is usable, 1 otherwise, so it fits a deploy pipeline.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

import typer

from ingest.imap.auth import credentials_for
from ingest.imap.session import ImapFailure, ImapSession
from ingest.settings import EmailSettings, MailboxSettings
from schemas.stage import StageContext


@dataclass(frozen=True, slots=True)
class FolderCheck:
    folder: str
    ok: bool
    uidvalidity: int | None = None
    messages: int | None = None
    error: str = ""


@dataclass(frozen=True, slots=True)
class MailboxCheck:
    mailbox: str
    server: str
    login: bool
    error: str = ""
    idle: bool | None = None
    capabilities: tuple[str, ...] = ()
    folders: tuple[FolderCheck, ...] = field(default=())

    @property
    def ok(self) -> bool:
        return self.login and all(f.ok for f in self.folders)


def check_mailbox(mailbox: MailboxSettings) -> MailboxCheck:
    server = f"{mailbox.host}:{mailbox.port} ({mailbox.security})"
    session = ImapSession(mailbox, credentials_for(mailbox))
    try:
        session.connect()
    except ImapFailure as exc:
        session.close()
        return MailboxCheck(mailbox.name, server, login=False, error=str(exc))
    try:
        folders = [_check_folder(session, name) for name in mailbox.folders]
        if mailbox.move_to:
            folders.append(_check_folder(session, mailbox.move_to))
        return MailboxCheck(
            mailbox.name, server, login=True, idle=session.supports_idle,
            capabilities=tuple(sorted(session.capabilities)), folders=tuple(folders),
        )
    finally:
        session.close()


def _check_folder(session: ImapSession, folder: str) -> FolderCheck:
    try:
        info = session.select(folder, readonly=True)
    except ImapFailure as exc:
        return FolderCheck(folder, ok=False, error=str(exc))
    return FolderCheck(folder, ok=True, uidvalidity=info.uidvalidity, messages=info.exists)


def render(check: MailboxCheck) -> str:
    lines = [f"{check.mailbox}  {check.server}"]
    if not check.login:
        lines.append(f"  login    FAILED: {check.error}")
        return "\n".join(lines)
    lines.append("  login    ok")
    lines.append(f"  IDLE     {'yes' if check.idle else 'no (will poll)'}")
    for f in check.folders:
        if f.ok:
            lines.append(f"  folder   {f.folder}: ok, {f.messages} messages, "
                         f"UIDVALIDITY {f.uidvalidity}")
        else:
            lines.append(f"  folder   {f.folder}: FAILED: {f.error}")
    return "\n".join(lines)


def check_all(settings: EmailSettings, names: list[str] | None = None) -> list[MailboxCheck]:
    chosen = [m for m in settings.mailboxes if not names or m.name in names]
    return [check_mailbox(m) for m in chosen]


def register(app: typer.Typer, get_ctx: Callable[..., StageContext]) -> None:
    mailboxes = typer.Typer(help="IMAP support mailboxes.", no_args_is_help=True)

    @mailboxes.command("check")
    def check(
        name: list[str] | None = typer.Argument(None, help="only these mailboxes"),  # noqa: B008
        as_json: bool = typer.Option(False, "--json", help="one JSON object per mailbox"),
    ) -> None:
        """Log in to each configured mailbox and report login, IDLE and folders."""
        settings: EmailSettings = get_ctx(broker=False).section("email")  # no Kafka needed
        if not settings.mailboxes:
            typer.echo("no mailboxes configured ([[email.mailboxes]] in the config file)",
                       err=True)
            raise typer.Exit(1)
        results = check_all(settings, name)
        for result in results:
            if as_json:
                typer.echo(json.dumps({**asdict(result), "ok": result.ok}))
            else:
                typer.echo(render(result))
        raise typer.Exit(0 if results and all(r.ok for r in results) else 1)

    app.add_typer(mailboxes, name="mailboxes")
