"""The ApplicationError types that may fail a workflow, listed once."""

from __future__ import annotations

CLUSTER_NOT_FOUND = "ClusterNotFound"
