"""Server logs: records and levels, a day-partitioned full-text store, and a file tailer."""

from openmanager.logs.record import LEVELS, LogRecord, level_number, parse_level
from openmanager.logs.store import LogQuery, LogStore

__all__ = ["LEVELS", "LogQuery", "LogRecord", "LogStore", "level_number", "parse_level"]
