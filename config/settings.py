"""The kinds of setting shiftfill reads from its environment, each with its bounds.

A config class declares each setting once, as a class attribute: the variable's
name (the attribute's, unless ``env=`` says otherwise), its kind with its bounds,
its default and what it means, for example::

    SHIFTFILL_THREADS = Whole(8, low=1, high=256, doc="gunicorn threads per worker")

Building the class reads every declared variable (``read_settings``), and a value
that cannot be used raises ``ConfigError`` with one line naming the variable and
what it must be. Nothing else in shiftfill reads the environment. Every number
has an upper bound as well as a lower one: a value past it (``inf``, ``1e12``)
would start the server and then fail requests, or threads, later.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Callable, Iterator, Mapping
from typing import Any, Generic, TypeVar, overload
from urllib.parse import urlsplit

T = TypeVar("T")

MINUTE = 60
HOUR = 60 * MINUTE
DAY = 24 * HOUR


class ConfigError(ValueError):
    """An environment variable has a value shiftfill cannot use."""


class Setting(Generic[T]):
    """One environment variable: its kind, default and meaning, read when a config is built.

    A non-data descriptor: on the class it is the declaration (for listing and
    documenting), on a config object the value read is an ordinary attribute.
    """

    def __init__(self, default: T, *, doc: str, env: str = "") -> None:
        self.default = default
        self.doc = doc
        self.env = env
        self.attribute = ""

    def __set_name__(self, owner: type, name: str) -> None:
        self.attribute = name
        self.env = self.env or name

    @overload
    def __get__(self, obj: None, owner: type | None = None) -> Setting[T]: ...
    @overload
    def __get__(self, obj: object, owner: type | None = None) -> T: ...
    def __get__(self, obj: object | None, owner: type | None = None) -> Setting[T] | T:
        if obj is None:
            return self
        # Only reached before ``read_settings`` stored the value on the object.
        return self.default

    def read(self, env: Mapping[str, str], config: object = None) -> T:
        """The value ``env`` gives (the default when unset or blank), or ``ConfigError``."""
        raw = env.get(self.env)
        if raw is None or not raw.strip():
            return self.default
        return self.parse(raw.strip())

    def parse(self, raw: str) -> T:
        raise NotImplementedError

    def bounds(self) -> str:
        """What a value must be, as the error message and the docs say it."""
        return "text"

    def refuse(self, raw: str) -> ConfigError:
        return ConfigError(f"{self.env} must be {self.bounds()}, got {raw!r}.")

    def shown_default(self) -> str:
        """The default as the docs show it."""
        value: Any = self.default
        if value is None or value == "" or value == ():
            return "unset"
        if isinstance(value, bool):
            return str(int(value))
        if isinstance(value, tuple):
            return ",".join(_show(v) if isinstance(v, float) else str(v) for v in value)
        if isinstance(value, float):
            return _show(value)
        return str(value)


def _show(number: float) -> str:
    return str(int(number)) if float(number).is_integer() else repr(float(number))


class Number(Setting[float]):
    """A finite number from ``low`` to ``high``: ``inf``, ``nan`` and ``1e12`` are refused."""

    def __init__(self, default: float, *, low: float, high: float, doc: str, env: str = "") -> None:
        super().__init__(float(default), doc=doc, env=env)
        self.low, self.high = low, high

    def parse(self, raw: str) -> float:
        try:
            value = float(raw)
        except ValueError:
            raise self.refuse(raw) from None
        if not (math.isfinite(value) and self.low <= value <= self.high):
            raise self.refuse(raw)
        return value

    def bounds(self) -> str:
        return f"a number from {_show(self.low)} to {_show(self.high)}"


class Whole(Setting[int]):
    """A whole number from ``low`` to ``high``."""

    def __init__(self, default: int, *, low: int, high: int, doc: str, env: str = "") -> None:
        super().__init__(default, doc=doc, env=env)
        self.low, self.high = low, high

    def parse(self, raw: str) -> int:
        try:
            value = int(raw)
        except ValueError:
            raise self.refuse(raw) from None
        if not self.low <= value <= self.high:
            raise self.refuse(raw)
        return value

    def bounds(self) -> str:
        return f"a whole number from {self.low} to {self.high}"


class Limit(Setting[float | None]):
    """A cap that is off by default: ``0`` or unset is none (``None``), else ``low`` to ``high``."""

    def __init__(self, *, low: float, high: float, doc: str, env: str = "") -> None:
        super().__init__(None, doc=doc, env=env)
        self.number = Number(low, low=low, high=high, doc=doc)

    def parse(self, raw: str) -> float | None:
        try:
            if float(raw) == 0:
                return None
            return self.number.parse(raw)
        except (ValueError, ConfigError):
            raise self.refuse(raw) from None

    def bounds(self) -> str:
        return f"0 (no limit) or {self.number.bounds()}"


class Choice(Setting[str]):
    """One of a few words, compared without case and kept lower-case (upper with ``upper``)."""

    def __init__(
        self, default: str, options: tuple[str, ...], *, doc: str, upper: bool = False
    ) -> None:
        super().__init__(default, doc=doc)
        self.options, self.upper = options, upper

    def parse(self, raw: str) -> str:
        value = raw.upper() if self.upper else raw.lower()
        if value not in self.options:
            raise self.refuse(raw)
        return value

    def bounds(self) -> str:
        return f"one of {', '.join(self.options)}"


class Flag(Setting[bool]):
    """On or off: ``1``/``true``/``yes``/``on`` or ``0``/``false``/``no``/``off``."""

    def __init__(self, *, doc: str) -> None:
        super().__init__(False, doc=doc)

    def parse(self, raw: str) -> bool:
        value = raw.lower()
        if value in {"0", "false", "no", "off"}:
            return False
        if value in {"1", "true", "yes", "on"}:
            return True
        raise self.refuse(raw)

    def bounds(self) -> str:
        return "1 or 0"


class Text(Setting[str]):
    """Free text, trimmed; with ``pattern``, it must match it (``what`` says how, for people)."""

    def __init__(
        self, default: str, *, doc: str, pattern: str = "", what: str = "", env: str = ""
    ) -> None:
        super().__init__(default, doc=doc, env=env)
        self.pattern = re.compile(pattern) if pattern else None
        self.what = what

    def parse(self, raw: str) -> str:
        if self.pattern is not None and not self.pattern.fullmatch(raw):
            raise self.refuse(raw)
        return raw

    def bounds(self) -> str:
        return self.what or "text"


class ClassDefault(Text):
    """Text whose default is an attribute of the config class; set but empty means empty.

    The seed file: production loads the sample data unless told otherwise, tests
    start empty, and ``SHIFTFILL_SEED_FILE=`` (empty) starts empty anywhere.
    """

    def __init__(self, attribute: str, *, doc: str, shown: str, what: str) -> None:
        super().__init__("", doc=doc, what=what)
        self.default_attribute, self.shown = attribute, shown

    def read(self, env: Mapping[str, str], config: object = None) -> str:
        raw = env.get(self.env)
        if raw is None:
            return str(getattr(config, self.default_attribute))
        return raw.strip()

    def shown_default(self) -> str:
        return self.shown


class Url(Text):
    """An http(s) address without a query; a trailing ``/`` is dropped."""

    def __init__(self, default: str, *, doc: str) -> None:
        super().__init__(default, doc=doc, what="an http(s) address without a query")

    def parse(self, raw: str) -> str:
        value = raw.rstrip("/")
        parts = urlsplit(value)
        if parts.scheme not in {"http", "https"} or not parts.netloc or parts.query:
            raise self.refuse(raw)
        return value


class Parsed(Setting[T]):
    """A value that a function of its own reads; the function raises ``ValueError`` to refuse."""

    def __init__(
        self, parse: Callable[[str], T], default: T, *, what: str, doc: str, env: str = ""
    ) -> None:
        super().__init__(default, doc=doc, env=env)
        self._parse, self.what = parse, what

    def parse(self, raw: str) -> T:
        try:
            return self._parse(raw)
        except ValueError:
            raise self.refuse(raw) from None

    def bounds(self) -> str:
        return self.what


def declared(config_class: type) -> Iterator[Setting[Any]]:
    """Every setting ``config_class`` declares, its base classes' first."""
    seen: set[str] = set()
    for klass in reversed(config_class.__mro__):
        for name, value in vars(klass).items():
            if isinstance(value, Setting) and name not in seen:
                seen.add(name)
                yield getattr(config_class, name)


def read_settings(config: object, env: Mapping[str, str]) -> None:
    """Read every setting ``config``'s class declares from ``env`` onto ``config``."""
    for setting in declared(type(config)):
        setattr(config, setting.attribute, setting.read(env, config))


# --- the parsers of settings with a shape of their own ---

_ADDRESS = re.compile(r"(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):(\d{1,5})")


def bind_addresses(raw: str) -> tuple[str, ...]:
    """``HOST:PORT``, ``[IPv6]:PORT`` or ``unix:PATH``, several separated by commas."""
    addresses = tuple(part.strip() for part in raw.split(",") if part.strip())
    for address in addresses:
        if address.startswith("unix:"):
            if len(address) > len("unix:"):
                continue
            raise ValueError(address)
        match = _ADDRESS.fullmatch(address)
        if match is None or not 1 <= int(match.group(2)) <= 65535:
            raise ValueError(address)
    if not addresses:
        raise ValueError(raw)
    return addresses


def writable_log(raw: str) -> str:
    """``-`` (standard output) or a file that exists and can be written, or can be made."""
    if raw == "-":
        return raw
    path = os.path.abspath(raw)
    if os.path.isdir(path):
        raise ValueError(raw)
    target = path if os.path.exists(path) else os.path.dirname(path)
    if not os.access(target, os.W_OK):
        raise ValueError(raw)
    return raw


def directory(raw: str) -> str:
    """A directory, or a path where one can be made (not a file)."""
    if os.path.exists(raw) and not os.path.isdir(raw):
        raise ValueError(raw)
    return raw
