"""The dashboard's users: who may sign in, and whether they may press stop.

The users file is plain text, one user a line: ``NAME ROLE HASH``, where ``ROLE`` is
``supervisor`` (sees everything, may send a stop) or ``viewer`` (sees everything, every stop
refused) and ``HASH`` is a salted ``hashlib.scrypt`` hash (:mod:`controller.pin`: the stored
text carries its own cost, so it can be raised later). Blank lines and ``#`` comments are
skipped. The file is written with mode 0600 (``treadguard dashboard user add``); the password
itself is never stored.
"""

from __future__ import annotations

import functools
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Literal

from controller.pin import hash_pin, verify_pin

Role = Literal["supervisor", "viewer"]
ROLES: Final[tuple[Role, ...]] = ("supervisor", "viewer")
USER_RE: Final = re.compile(r"^[A-Za-z0-9_.@-]{1,64}$")
MIN_PASSWORD_CHARS: Final = 8
MAX_PASSWORD_CHARS: Final = 256


class UsersError(Exception):
    """A users file or a user that cannot be used; the message is one line naming where."""


@dataclass(frozen=True)
class User:
    name: str
    role: Role
    hash: str

    @property
    def may_stop(self) -> bool:
        return self.role == "supervisor"


def load(path: Path) -> dict[str, User]:
    """Every user of ``path``, by name. :class:`UsersError` for a missing or malformed file."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UsersError(f"{path}: no such users file (treadguard dashboard user add NAME "
                         f"--role supervisor --users {path})") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UsersError(f"{path}: cannot read the users file: {exc}") from None
    users: dict[str, User] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        fields = line.split()
        if len(fields) != 3:
            raise UsersError(f"{path}:{number}: expected 'NAME ROLE HASH', got {len(fields)} "
                             f"fields")
        name, role, stored = fields
        if USER_RE.fullmatch(name) is None:
            raise UsersError(f"{path}:{number}: user name {name!r}: expected 1-64 letters, "
                             f"digits, '_', '.', '@' or '-'")
        if role not in ROLES:
            raise UsersError(f"{path}:{number}: role {role!r}: expected one of "
                             f"{', '.join(ROLES)}")
        if not stored.startswith("scrypt$"):
            raise UsersError(f"{path}:{number}: the hash is not a scrypt hash")
        if name in users:
            raise UsersError(f"{path}:{number}: user {name!r} listed twice")
        users[name] = User(name, role, stored)
    return users


def password_problem(password: str) -> str | None:
    """Why ``password`` cannot be a dashboard password, or None."""
    if not MIN_PASSWORD_CHARS <= len(password) <= MAX_PASSWORD_CHARS:
        return (f"a password has {MIN_PASSWORD_CHARS} to {MAX_PASSWORD_CHARS} characters, got "
                f"{len(password)}")
    return None


def add(path: Path, name: str, role: str, password: str) -> bool:
    """Add ``name`` (or replace its role and password) in ``path``, creating the file with mode
    0600. True if the user was new."""
    if USER_RE.fullmatch(name) is None:
        raise UsersError(f"user name {name!r}: expected 1-64 letters, digits, '_', '.', '@' "
                         f"or '-'")
    if role not in ROLES:
        raise UsersError(f"role {role!r}: expected one of {', '.join(ROLES)}")
    problem = password_problem(password)
    if problem is not None:
        raise UsersError(problem)
    users = load(path) if path.exists() else {}
    new = name not in users
    users[name] = User(name, role, hash_pin(password))
    _write(path, users)
    return new


def remove(path: Path, name: str) -> User:
    """Remove ``name`` from ``path``; the removed user. A running dashboard ends that user's
    sessions at their next request (it checks every session against the file)."""
    users = load(path) if path.exists() else {}
    if name not in users:
        raise UsersError(f"{path}: no user {name!r} (users: {', '.join(users) or 'none'})")
    gone = users.pop(name)
    _write(path, users)
    return gone


def _write(path: Path, users: dict[str, User]) -> None:
    """Write ``users`` to ``path`` atomically, mode 0600."""
    lines = ["# treadguard dashboard users: NAME ROLE SCRYPT-HASH (treadguard dashboard user add)"]
    lines += [f"{u.name} {u.role} {u.hash}" for u in users.values()]
    temporary = path.with_name(path.name + ".tmp")
    try:
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write("\n".join(lines) + "\n")
        os.replace(temporary, path)
    except OSError as exc:
        raise UsersError(f"{path}: cannot write the users file: {exc.strerror or exc}") from None


def check(users: dict[str, User], name: str, password: str) -> User | None:
    """The user if ``password`` is theirs, else None (an unknown name costs one scrypt too, so
    the time taken does not tell which names exist)."""
    user = users.get(name)
    if user is None:
        verify_pin(password, _dummy_hash())
        return None
    return user if verify_pin(password, user.hash) else None


@functools.cache
def _dummy_hash() -> str:
    return hash_pin("not-a-password", salt=b"\x00" * 16)
