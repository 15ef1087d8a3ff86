"""Agents' passwords: argon2id hashes (argon2-cffi) in a small JSON file, agent id -> hash.

The file is written by ``helpline console passwd`` (atomically, mode 0600) and re-read by the
console when its modification time changes. A password never leaves this module unhashed.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import orjson
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

MIN_PASSWORD_CHARS = 8
_HASHER = PasswordHasher()  # argon2id with the library's current recommended parameters
# Verified against when the agent has no password, so an unknown name costs as much time as a
# wrong password (no user enumeration by timing).
_DUMMY = _HASHER.hash("no-such-agent-placeholder")


class PasswordRejected(ValueError):
    """The new password is not acceptable; the message says why."""


def hash_password(password: str) -> str:
    if len(password) < MIN_PASSWORD_CHARS:
        raise PasswordRejected(f"a password needs at least {MIN_PASSWORD_CHARS} characters")
    return _HASHER.hash(password)


def verify(stored: str | None, password: str) -> bool:
    try:
        return _HASHER.verify(stored or _DUMMY, password) and stored is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


class PasswordFile:
    """The hashes on disk, cached until the file changes."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._stamp: tuple[int, int] | None = None
        self._hashes: dict[str, str] = {}

    def hashes(self) -> dict[str, str]:
        try:
            st = self.path.stat()
        except FileNotFoundError:
            self._stamp, self._hashes = None, {}
            return {}
        stamp = (st.st_mtime_ns, st.st_size)
        if stamp != self._stamp:
            data = orjson.loads(self.path.read_bytes() or b"{}")
            if not isinstance(data, dict):
                raise ValueError(f"{self.path}: expected a JSON object of agent id -> hash")
            self._hashes = {str(k): str(v) for k, v in data.items()}
            self._stamp = stamp
        return dict(self._hashes)

    def check(self, agent_id: str, password: str) -> bool:
        return verify(self.hashes().get(agent_id), password)

    def set(self, agent_id: str, password: str) -> None:
        hashes = self.hashes()
        hashes[agent_id] = hash_password(password)
        self._write(hashes)

    def remove(self, agent_id: str) -> bool:
        hashes = self.hashes()
        found = hashes.pop(agent_id, None) is not None
        if found:
            self._write(hashes)
        return found

    def _write(self, hashes: dict[str, str]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".passwords-")
        try:
            os.fchmod(fd, 0o600)
            with os.fdopen(fd, "wb") as f:
                f.write(orjson.dumps(hashes, option=orjson.OPT_SORT_KEYS | orjson.OPT_INDENT_2))
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
