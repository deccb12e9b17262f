"""The broker's address: ``mqtt://HOST[:PORT]`` or ``mqtts://HOST[:PORT]`` (TLS)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final
from urllib.parse import urlsplit

DEFAULT_PORTS: Final = {"mqtt": 1883, "mqtts": 8883}


@dataclass(frozen=True)
class BrokerAddress:
    """Where the broker listens, and whether the connection is TLS."""

    host: str
    port: int
    tls: bool

    @property
    def url(self) -> str:
        return f"{'mqtts' if self.tls else 'mqtt'}://{self.host}:{self.port}"


def parse_broker_url(text: str) -> BrokerAddress | str:
    """The address in ``text``, or why it is not one (a phrase for a one-line error)."""
    expected = 'expected "mqtt://HOST:PORT" or "mqtts://HOST:PORT"'
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError as exc:
        return f"{expected}, got {text!r} ({exc})"
    if parts.scheme not in DEFAULT_PORTS:
        return f"{expected}, got {text!r} (scheme {parts.scheme or 'missing'!r})"
    if not parts.hostname:
        return f"{expected}, got {text!r} (no host)"
    if parts.username is not None or parts.password is not None:
        return (f"{expected}, got a user or password in the URL: use [fleet] username and "
                f"password_file")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        return f"{expected}, got {text!r} (a path, query or fragment)"
    if port == 0:
        return f"{expected}, got {text!r} (port 0)"
    return BrokerAddress(parts.hostname, port or DEFAULT_PORTS[parts.scheme],
                         parts.scheme == "mqtts")
