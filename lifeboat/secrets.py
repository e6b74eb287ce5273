"""Encryption of secrets at rest (kubeconfigs, cloud keys, location keys).

Fernet (AES-128-CBC with HMAC-SHA256) under a key derived from the configured secret, so any
string of enough entropy works as `LIFEBOAT_SECRET_KEY`.

Rotating the secret key: set the new one as `LIFEBOAT_SECRET_KEY` and the one it replaces as
`LIFEBOAT_PREVIOUS_SECRET_KEYS` (a JSON list); secrets under either decrypt, new ones are
written under the new key. `lifeboat rotate-secrets` then re-encrypts every stored secret
under the new key in one transaction (`rotate_secrets`), after which the previous key can go.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Sequence

from cryptography.fernet import Fernet, InvalidToken, MultiFernet


class SecretDecryptError(Exception):
    """A stored secret could not be decrypted: the secret key changed or the row was altered."""


def _fernet(secret_key: str) -> Fernet:
    digest = hashlib.sha256(b"lifeboat-secrets-v1:" + secret_key.encode()).digest()
    return Fernet(base64.urlsafe_b64encode(digest))


class SecretBox:
    """Encrypts secrets with the deployment's secret key; decrypts what it or one of the
    `previous` keys (a rotation under way) encrypted."""

    def __init__(self, secret_key: str, previous: Sequence[str] = ()) -> None:
        self._fernet = MultiFernet([_fernet(k) for k in (secret_key, *previous)])

    def encrypt(self, plaintext: str) -> bytes:
        return self._fernet.encrypt(plaintext.encode())

    def decrypt(self, ciphertext: bytes) -> str:
        try:
            return self._fernet.decrypt(ciphertext).decode()
        except InvalidToken as exc:
            raise SecretDecryptError(
                "a stored secret cannot be decrypted with LIFEBOAT_SECRET_KEY (nor with "
                "LIFEBOAT_PREVIOUS_SECRET_KEYS)"
            ) from exc

    def rotate(self, ciphertext: bytes) -> bytes:
        """The same secret encrypted under the current key."""
        try:
            return self._fernet.rotate(ciphertext)
        except InvalidToken as exc:
            raise SecretDecryptError(
                "a stored secret cannot be decrypted with LIFEBOAT_SECRET_KEY nor with "
                "LIFEBOAT_PREVIOUS_SECRET_KEYS: add the key it was written with"
            ) from exc
