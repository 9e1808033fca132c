"""Prometheus alerting and recording rules: rule files, templating, evaluation, alert state."""
