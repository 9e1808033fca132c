"""Configuration: one validated settings model, loaded from YAML, environment and a profile."""

from openmanager.config.loader import load_settings
from openmanager.config.settings import Settings

__all__ = ["Settings", "load_settings"]
