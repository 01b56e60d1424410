"""Password hashing with a memory-hard KDF (argon2id), for IVR-9 and SITE-3.

argon2-cffi releases the GIL while hashing, so many AGI sessions could hash
at once; each hash takes ``MEMORY_KIB`` of RAM, so a semaphore bounds how
many run together (1,000 concurrent calls must not ask for 19 GB).

Every process hashes with the production parameters. A test run or a
benchmark that is not measuring the KDF itself may choose cheaper ones for a
while with ``use_hasher``; the stored format and the code paths stay the
same, and a hash carries its own parameters, so any hasher verifies it.

argon2 is imported when a password is first hashed or checked: a command
that only reads (``chakushin line list``) never loads it (issue 18).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from argon2 import PasswordHasher

# OWASP's minimum for argon2id: 19 MiB, 2 passes, 1 lane.
MEMORY_KIB = 19 * 1024
TIME_COST = 2
PARALLELISM = 1


def make_hasher() -> PasswordHasher:
    """The production hasher (IVR-9, SITE-3): argon2id at OWASP's minimum cost."""
    from argon2 import PasswordHasher

    return PasswordHasher(time_cost=TIME_COST, memory_cost=MEMORY_KIB, parallelism=PARALLELISM)


# The hasher in use; the production one is made on first use.
_hasher: PasswordHasher | None = None
_slots = threading.BoundedSemaphore(max(2, os.cpu_count() or 2))


@contextmanager
def use_hasher(hasher: PasswordHasher) -> Iterator[PasswordHasher]:
    """Hash with ``hasher`` inside the block, then with the one chosen before.

    For tests and benchmarks only: the test suite hashes hundreds of
    passwords and runs them at 1 MiB and 1 pass (tests/conftest.py). The
    choice is process-wide (every thread sees it), so nest the blocks rather
    than overlap them. Production code never calls this.
    """
    global _hasher
    previous, _hasher = _hasher, hasher
    try:
        yield hasher
    finally:
        _hasher = previous


def _current() -> PasswordHasher:
    global _hasher
    if _hasher is None:
        _hasher = make_hasher()
    return _hasher


def hash_password(password: str) -> str:
    with _slots:
        return _current().hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

    try:
        with _slots:
            return _current().verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False
