"""Temporal activities: everything that touches a cluster, a bucket or the catalog."""
