"""Runtime leaves used by every layer: logs, metrics, background tasks, rate limits, dedupe, secrets."""
