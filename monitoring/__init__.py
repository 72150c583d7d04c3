"""Watching the running product: Prometheus metrics and the readiness checks behind /readyz."""
