"""What each watched folder is doing right now, for health checks, metrics and the CLI.

The connector records transitions here; the runtime (health endpoint, metrics exporter) reads
:meth:`StatusBoard.snapshot`. Auth failures are a state ("auth_failed", with the server's own
words), not a crash: the worker stays up and the health check says which mailbox needs re-auth.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

FolderState = Literal[
    "starting", "syncing", "idle", "polling", "reconnecting", "auth_failed", "stopped"
]


@dataclass(frozen=True, slots=True)
class FolderHealth:
    mailbox: str
    folder: str
    state: FolderState = "starting"
    since: datetime | None = None
    detail: str = ""  # the server's words for the last failure
    idle_supported: bool | None = None
    uidvalidity: int | None = None
    last_uid: int | None = None
    ingested: int = 0
    resyncs: int = 0
    resync_skipped: int = 0  # mail a resync found already published (by Message-ID)
    failures: int = 0
    # messages Kafka kept refusing (e.g. over its size limit), left on the server
    quarantined: int = 0
    last_ingest_at: datetime | None = None
    token_expires_at: datetime | None = None  # the OAuth2 token's, when its provider said it

    @property
    def needs_reauth(self) -> bool:
        return self.state == "auth_failed"


class StatusBoard:
    """Current :class:`FolderHealth` per (mailbox, folder). Written from the event loop only."""

    def __init__(self) -> None:
        self._folders: dict[tuple[str, str], FolderHealth] = {}

    def get(self, mailbox: str, folder: str) -> FolderHealth:
        return self._folders.get((mailbox, folder)) or FolderHealth(mailbox, folder)

    def update(self, mailbox: str, folder: str, **changes: object) -> FolderHealth:
        current = self.get(mailbox, folder)
        new = dataclasses.replace(current, **changes)  # type: ignore[arg-type]
        self._folders[(mailbox, folder)] = new
        return new

    def transition(
        self, mailbox: str, folder: str, state: FolderState, now: datetime, detail: str = ""
    ) -> FolderHealth:
        current = self.get(mailbox, folder)
        if current.state == state and current.detail == detail:
            return current
        failures = current.failures + (state in ("reconnecting", "auth_failed"))
        return self.update(
            mailbox, folder, state=state, since=now, detail=detail, failures=failures
        )

    def snapshot(self) -> tuple[FolderHealth, ...]:
        return tuple(self._folders[k] for k in sorted(self._folders))

    def healthy(self) -> bool:
        """False while any folder's credentials are rejected (an operator must act)."""
        return not any(f.needs_reauth for f in self._folders.values())

    def report(self) -> dict[str, object]:
        """For /readyz and logs: ready unless a mailbox needs re-auth; one entry per folder
        with its state and counters (names from the config, no addresses)."""
        return {
            "service": "imap",
            "ready": self.healthy(),
            "folders": [_folder_report(f) for f in self.snapshot()],
        }


def _folder_report(f: FolderHealth) -> dict[str, object]:
    entry: dict[str, object] = {
        "mailbox": f.mailbox, "folder": f.folder, "state": f.state,
        "detail": f.detail, "idle": f.idle_supported, "ingested": f.ingested,
        "quarantined": f.quarantined, "resyncs": f.resyncs, "failures": f.failures,
        "last_ingest_at": f.last_ingest_at.isoformat() if f.last_ingest_at else None,
    }
    if f.token_expires_at is not None:  # OAuth2 mailboxes whose provider said it
        entry["token_expires_at"] = f.token_expires_at.timestamp()
    return entry
