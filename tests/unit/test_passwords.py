"""IVR-9, SITE-3: the hasher a test or a benchmark chooses, and what it leaves behind."""

from __future__ import annotations

from argon2 import PasswordHasher, extract_parameters

from store import passwords


def test_use_hasher_chooses_for_the_block_and_restores_the_one_before() -> None:
    outer = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    inner = PasswordHasher(time_cost=1, memory_cost=2048, parallelism=1)
    with passwords.use_hasher(outer):
        with passwords.use_hasher(inner) as chosen:
            assert chosen is inner
            assert extract_parameters(passwords.hash_password("Tokyo2026x")).memory_cost == 2048
        assert extract_parameters(passwords.hash_password("Tokyo2026x")).memory_cost == 1024


def test_a_hash_carries_its_parameters_so_any_hasher_verifies_it() -> None:
    """Hashes made with the tests' cheap hasher verify with the production one, and back."""
    cheap = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    with passwords.use_hasher(cheap):
        made_cheap = passwords.hash_password("hikari7Mail")
    with passwords.use_hasher(passwords.make_hasher()):
        assert passwords.verify_password(made_cheap, "hikari7Mail")
        assert not passwords.verify_password(made_cheap, "hikari7Maii")
        made_production = passwords.hash_password("hikari7Mail")
    with passwords.use_hasher(cheap):
        assert passwords.verify_password(made_production, "hikari7Mail")
