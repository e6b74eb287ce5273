"""The real servers the dev stack starts: Temporal, S3, Kubernetes, OIDC, PostgreSQL."""
