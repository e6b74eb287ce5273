"""Temporal workflows: pure orchestration of activities (no I/O, clocks or randomness)."""
