"""Password hashing with a memory-hard KDF (argon2id), for IVR-9 and SITE-3.

argon2-cffi releases the GIL while hashing, so many AGI sessions could hash
at once; each hash takes ``MEMORY_KIB`` of RAM, so a semaphore bounds how
many run together (1,000 concurrent calls must not ask for 19 GB).
"""

from __future__ import annotations

import os
import threading

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

# OWASP's minimum for argon2id: 19 MiB, 2 passes, 1 lane.
MEMORY_KIB = 19 * 1024
TIME_COST = 2
PARALLELISM = 1


def make_hasher() -> PasswordHasher:
    return PasswordHasher(time_cost=TIME_COST, memory_cost=MEMORY_KIB, parallelism=PARALLELISM)


_hasher = make_hasher()
_slots = threading.BoundedSemaphore(max(2, os.cpu_count() or 2))


def hash_password(password: str) -> str:
    with _slots:
        return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        with _slots:
            return _hasher.verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False
