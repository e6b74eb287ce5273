"""The HTTP API: authenticates, authorizes, then reads the catalog or starts workflows."""
