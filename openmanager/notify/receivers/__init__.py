"""Receiver integrations: webhook, Slack, email (SMTP); each sends one group's notification."""
