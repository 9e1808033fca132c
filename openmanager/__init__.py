"""OpenManager: AI-assisted server monitoring in one program."""

__version__ = "0.1.0"
