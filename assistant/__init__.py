"""assistant: a local voice assistant daemon that measures every turn's latency."""

__version__ = "0.1.0"
