"""The names of every key the Redis store writes."""

from __future__ import annotations


class Keys:
    """Names every key shiftfill writes: ``<prefix>{<tag>}:<part>:<part>...``."""

    def __init__(self, prefix: str) -> None:
        tag = prefix.strip(":") or "shiftfill"
        self._base = f"{prefix}{{{tag}}}:"

    def __call__(self, *parts: str) -> str:
        return self._base + ":".join(parts)
