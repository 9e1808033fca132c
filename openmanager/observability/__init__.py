"""The app watching itself: dependency health, JSON logs with request ids, process metrics."""
