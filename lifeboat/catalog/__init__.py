"""The catalog: models, sessions, repositories and migrations."""
