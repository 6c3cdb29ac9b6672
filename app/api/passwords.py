"""Password hashes for the accounts of ACCOUNTS_FILE: scrypt, from Python's standard library.

Why scrypt: it is slow and memory-hard, so a stolen accounts file is expensive to attack with
GPUs; it needs no new dependency (hashlib). The default cost, N = 2**15, r = 8, p = 1, takes
about 0.1 s and 32 MiB per check on one core. A server pays it once per process for each
account's credentials (auth.py keeps a cache), so the cost does not touch throughput.

Format (the PHC string format): `$scrypt$ln=15,r=8,p=1$<salt>$<key>`, salt and key in
base64 without padding. Hashes with a higher cost are accepted as they are.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import re
from dataclasses import dataclass

LOG2_N, BLOCK_SIZE, PARALLELISM = 15, 8, 1
SALT_BYTES, KEY_BYTES = 16, 32
# Bounds on the cost a hash may name: below them a hash is too weak to accept, above them a
# check would take seconds or gigabytes.
LOG2_N_RANGE, BLOCK_SIZE_RANGE, PARALLELISM_RANGE = (14, 20), (8, 16), (1, 4)

_FORMAT = re.compile(r"\$scrypt\$ln=(\d{1,2}),r=(\d{1,2}),p=(\d{1,2})"
                     r"\$([A-Za-z0-9+/]{16,88})\$([A-Za-z0-9+/]{43,88})")


class BadHash(ValueError):
    """The text is not a password hash this server made (or one it accepts)."""


@dataclass(frozen=True)
class PasswordHash:
    log2_n: int
    block_size: int
    parallelism: int
    salt: bytes
    key: bytes

    def matches(self, password: str) -> bool:
        """Whether `password` is the one hashed (constant-time comparison)."""
        return hmac.compare_digest(_scrypt(password, self.salt, self.log2_n, self.block_size,
                                           self.parallelism, len(self.key)), self.key)

    def __str__(self) -> str:
        return (f"$scrypt$ln={self.log2_n},r={self.block_size},p={self.parallelism}"
                f"${_encode(self.salt)}${_encode(self.key)}")


def hash_password(password: str) -> str:
    """A new hash of `password`, with a fresh random salt, for ACCOUNTS_FILE."""
    if not password:
        raise ValueError("the password is empty")
    salt = os.urandom(SALT_BYTES)
    key = _scrypt(password, salt, LOG2_N, BLOCK_SIZE, PARALLELISM, KEY_BYTES)
    return str(PasswordHash(LOG2_N, BLOCK_SIZE, PARALLELISM, salt, key))


def parse_hash(text: str) -> PasswordHash:
    """The hash named by `text`; BadHash says why it is not acceptable."""
    found = _FORMAT.fullmatch(text)
    if found is None:
        raise BadHash("is not a hash printed by `python -m app hash-password` "
                      "(expected $scrypt$ln=..,r=..,p=..$<salt>$<key>)")
    log2_n, block_size, parallelism = (int(found.group(index)) for index in (1, 2, 3))
    for name, value, (low, high) in (("ln", log2_n, LOG2_N_RANGE), ("r", block_size, BLOCK_SIZE_RANGE),
                                     ("p", parallelism, PARALLELISM_RANGE)):
        if not low <= value <= high:
            raise BadHash(f"has {name}={value}; this server accepts {name} from {low} to {high}")
    try:
        salt, key = _decode(found.group(4)), _decode(found.group(5))
    except binascii.Error:
        raise BadHash("has a salt or key that is not base64") from None
    return PasswordHash(log2_n, block_size, parallelism, salt, key)


def _scrypt(password: str, salt: bytes, log2_n: int, block_size: int, parallelism: int,
            length: int) -> bytes:
    n = 2 ** log2_n
    return hashlib.scrypt(password.encode(), salt=salt, n=n, r=block_size, p=parallelism,
                          maxmem=2 * 128 * block_size * n * parallelism, dklen=length)


def _encode(raw: bytes) -> str:
    return base64.b64encode(raw).decode().rstrip("=")


def _decode(text: str) -> bytes:
    return base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
