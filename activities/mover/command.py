"""What the mover command (`python -m activities.mover`) and the runners that start it agree
on: where its secrets are in its environment, and what its exit codes mean."""

from __future__ import annotations

from activities.mover.errors import IntegrityError, SnapshotNotFoundError

# The location's keys, as a pair (lifeboat.credentials): the public part (an S3 access key id,
# an Azure storage account), then the secret; and the location's encryption key, as text.
ENV_ACCESS_KEY = "LIFEBOAT_MOVER_ACCESS_KEY"
ENV_SECRET_KEY = "LIFEBOAT_MOVER_SECRET_KEY"
ENV_LOCATION_KEY = "LIFEBOAT_MOVER_LOCATION_KEY"
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_PERMANENT = 3
# Failures no retry cures.
PERMANENT = (IntegrityError, SnapshotNotFoundError)
