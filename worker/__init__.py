"""The Temporal worker process: wires activities and workflows together."""
