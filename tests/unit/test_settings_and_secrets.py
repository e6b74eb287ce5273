"""Settings refuse the development secret outside development; secrets stay secret at rest."""

from __future__ import annotations

import os

import pytest
from pydantic import ValidationError

from lifeboat.secrets import SecretBox, SecretDecryptError
from lifeboat.settings import DEV_SECRET_KEY, Environment, Mode, Settings

PRODUCTION_KEY = "Vq3b8pY1m2xT9kR4sN7wE0aJ6cH5dL"


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Settings come only from what each test sets, not from the shell running the tests."""
    for name in list(os.environ):
        if name.upper().startswith("LIFEBOAT_"):
            monkeypatch.delenv(name)


def test_defaults_work_in_development() -> None:
    settings = Settings()
    assert settings.environment is Environment.DEVELOPMENT
    assert settings.mode is Mode.CLASSIC
    assert settings.secret_key == DEV_SECRET_KEY


def test_production_refuses_the_default_secret_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LIFEBOAT_ENVIRONMENT", "production")
    with pytest.raises(ValidationError, match="LIFEBOAT_SECRET_KEY"):
        Settings()


def test_production_with_a_proper_key_works(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LIFEBOAT_ENVIRONMENT", "production")
    monkeypatch.setenv("LIFEBOAT_SECRET_KEY", PRODUCTION_KEY)
    settings = Settings()
    assert settings.environment is Environment.PRODUCTION
    assert settings.secret_key == PRODUCTION_KEY


def test_short_secret_key_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LIFEBOAT_SECRET_KEY", "short")
    with pytest.raises(ValidationError, match="LIFEBOAT_SECRET_KEY must be at least 16"):
        Settings()


def test_environment_prefix_is_honoured(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LIFEBOAT_MODE", "federated")
    monkeypatch.setenv("LIFEBOAT_TASK_QUEUE", "lifeboat-eu")
    monkeypatch.setenv("LIFEBOAT_OIDC_ALGORITHMS", '["ES256"]')
    monkeypatch.setenv("TASK_QUEUE", "unprefixed-is-ignored")
    settings = Settings()
    assert settings.mode is Mode.FEDERATED
    assert settings.task_queue == "lifeboat-eu"
    assert settings.oidc_algorithms == ["ES256"]


KUBECONFIG_TOKEN = "eyJhbGciOiJSUzI1NiJ9.c2VydmljZS1hY2NvdW50.c2lnbmF0dXJl"


def test_encrypt_decrypt_round_trip() -> None:
    box = SecretBox(PRODUCTION_KEY)
    for plaintext in ("", KUBECONFIG_TOKEN, "mot de passe é ✓\n" * 100):
        assert box.decrypt(box.encrypt(plaintext)) == plaintext


def test_ciphertext_does_not_contain_the_plaintext() -> None:
    ciphertext = SecretBox(PRODUCTION_KEY).encrypt(KUBECONFIG_TOKEN)
    assert KUBECONFIG_TOKEN.encode() not in ciphertext
    assert b"c2VydmljZS1hY2NvdW50" not in ciphertext


def test_two_encryptions_differ() -> None:
    box = SecretBox(PRODUCTION_KEY)
    assert box.encrypt(KUBECONFIG_TOKEN) != box.encrypt(KUBECONFIG_TOKEN)


def test_decrypting_with_another_key_fails() -> None:
    ciphertext = SecretBox(PRODUCTION_KEY).encrypt(KUBECONFIG_TOKEN)
    with pytest.raises(SecretDecryptError, match="LIFEBOAT_SECRET_KEY"):
        SecretBox(PRODUCTION_KEY + "-rotated").decrypt(ciphertext)


def test_decrypting_an_altered_ciphertext_fails() -> None:
    ciphertext = bytearray(SecretBox(PRODUCTION_KEY).encrypt(KUBECONFIG_TOKEN))
    ciphertext[-5] ^= 1
    with pytest.raises(SecretDecryptError):
        SecretBox(PRODUCTION_KEY).decrypt(bytes(ciphertext))
