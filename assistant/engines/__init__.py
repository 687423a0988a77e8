"""Engines behind small Protocols, each running on its own single-thread worker."""
