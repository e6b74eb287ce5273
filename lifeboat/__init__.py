"""Lifeboat: self-hosted backup and restore for Kubernetes applications."""

__version__ = "0.1.0"
