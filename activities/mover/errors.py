"""What the data mover raises: one base class, so callers can map it to one failure type."""

from __future__ import annotations


class MoverError(Exception):
    """A backup or restore could not be done; the message says what and where."""


class IntegrityError(MoverError):
    """Stored data failed its check: tampered with, corrupted, or read with the wrong key."""


class SnapshotNotFoundError(MoverError):
    """No snapshot with that id under the location's prefix."""
