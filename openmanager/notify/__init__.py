"""Notifications: Alertmanager-dialect routing, grouping, silences, inhibition, receivers, history."""
