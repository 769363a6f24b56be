"""Password and secret hashing."""

import hashlib
import secrets
from functools import lru_cache

from pwdlib import PasswordHash


@lru_cache(maxsize=1)
def _password_hash() -> PasswordHash:
    return PasswordHash.recommended()  # argon2id


def hash_password(password: str) -> str:
    return _password_hash().hash(password)


def verify_password(password: str, password_hash: str) -> bool:
    return _password_hash().verify(password, password_hash)


def new_secret() -> str:
    """A high-entropy secret (tracking secrets, API keys): a fast hash is enough to store it."""
    return secrets.token_urlsafe(24)


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def secret_matches(secret: str, secret_hash: str) -> bool:
    return secrets.compare_digest(hash_secret(secret), secret_hash)
