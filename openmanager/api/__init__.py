"""The HTTP API: Prometheus-compatible endpoints, fleet, status; thin adapters over services."""
