"""Encryption of secrets at rest (kubeconfigs, cloud keys, location keys).

Fernet (AES-128-CBC with HMAC-SHA256) under a key derived from the configured secret, so any
string of enough entropy works as `LIFEBOAT_SECRET_KEY`.
"""

from __future__ import annotations

import base64
import hashlib

from cryptography.fernet import Fernet, InvalidToken


class SecretDecryptError(Exception):
    """A stored secret could not be decrypted: the secret key changed or the row was altered."""


class SecretBox:
    """Encrypts and decrypts secrets with the deployment's secret key."""

    def __init__(self, secret_key: str) -> None:
        digest = hashlib.sha256(b"lifeboat-secrets-v1:" + secret_key.encode()).digest()
        self._fernet = Fernet(base64.urlsafe_b64encode(digest))

    def encrypt(self, plaintext: str) -> bytes:
        return self._fernet.encrypt(plaintext.encode())

    def decrypt(self, ciphertext: bytes) -> str:
        try:
            return self._fernet.decrypt(ciphertext).decode()
        except InvalidToken as exc:
            raise SecretDecryptError(
                "a stored secret cannot be decrypted with LIFEBOAT_SECRET_KEY"
            ) from exc
