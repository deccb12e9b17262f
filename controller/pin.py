"""The supervisor PIN: stored only as a salted ``hashlib.scrypt`` hash.

The stored text is ``scrypt$N$r$p$SALT$HASH`` (hex), so the cost can be raised later without
breaking stored PINs. N = 2¹⁴, r = 8 (16 MiB of memory per check) slows a guesser (0.3 s per
check measured on the development machine under load; not measured on a Pi); every wrong PIN
is also counted and logged by the runner store.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import Final

SCRYPT_N: Final = 2 ** 14
SCRYPT_R: Final = 8
SCRYPT_P: Final = 1
SALT_BYTES: Final = 16
MIN_PIN_CHARS: Final = 4
MAX_PIN_CHARS: Final = 64


def hash_pin(pin: str, salt: bytes | None = None) -> str:
    """The text to store for ``pin`` (a fresh random salt unless one is given)."""
    salt = secrets.token_bytes(SALT_BYTES) if salt is None else salt
    digest = _scrypt(pin, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P)
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${salt.hex()}${digest.hex()}"


def verify_pin(pin: str, stored: str) -> bool:
    """Does ``pin`` match the stored hash? False for a malformed stored text, never raises."""
    try:
        kind, n, r, p, salt, digest = stored.split("$")
        if kind != "scrypt":
            return False
        actual = _scrypt(pin, bytes.fromhex(salt), int(n), int(r), int(p))
        return hmac.compare_digest(actual, bytes.fromhex(digest))
    except (ValueError, MemoryError):
        return False


def pin_problem(pin: str) -> str | None:
    """Why ``pin`` cannot be a new PIN, or None."""
    if not MIN_PIN_CHARS <= len(pin) <= MAX_PIN_CHARS:
        return f"a PIN has {MIN_PIN_CHARS} to {MAX_PIN_CHARS} characters, got {len(pin)}"
    if pin != pin.strip():
        return "a PIN may not start or end with a space"
    return None


def _scrypt(pin: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(pin.encode("utf-8"), salt=salt, n=n, r=r, p=p, maxmem=64 * 1024 * 1024,
                          dklen=32)
