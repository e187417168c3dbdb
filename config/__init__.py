"""Configuration classes: every setting shiftfill reads, declared once, read when one is built.

Each class attribute made with a kind from ``config.settings`` is one environment
variable with its bounds and default; building a config reads them all, checks
the ones that must agree, and raises ``ConfigError`` (one line naming the
variable) for anything it cannot use. Nothing else in shiftfill, nor the gunicorn
config, reads the environment: they take what they need from a config object.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from urllib.parse import urlsplit
from zoneinfo import available_timezones

import phonenumbers

from config.settings import (
    DAY,
    HOUR,
    Choice,
    ClassDefault,
    Flag,
    Limit,
    Number,
    Parsed,
    Text,
    Url,
    Whole,
    bind_addresses,
    declared,
    directory,
    read_settings,
    writable_log,
)
from config.settings import ConfigError as ConfigError
from config.settings import Setting as Setting

SAMPLE_SEED = str(Path(__file__).resolve().parent.parent / "shiftfill" / "data" / "sample.json")


_E164 = re.compile(r"^\+[1-9]\d{6,14}$")
_ROLE = re.compile(r"^[A-Z0-9_-]{1,32}$")
DEFAULT_ROLES: tuple[str, ...] = ("RN", "LPN", "LVN", "CNA", "HHA", "PCA", "PT", "OT", "ST", "MSW")
_LOOPBACK_HOSTS = {"localhost", "127.0.0.1", "::1"}
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
DEFAULT_BIND: tuple[str, ...] = ("127.0.0.1:8000",)
DEFAULT_WEBHOOK_RETRIES: tuple[float, ...] = (5.0, 300.0, 1800.0, 7200.0, 18000.0, 36000.0, 36000.0)
NO_TOKENS: tuple[str, ...] = ()


def _store_url(raw: str) -> str:
    if raw != "memory://" and urlsplit(raw).scheme not in {"redis", "rediss"}:
        raise ValueError(raw)
    return raw


def _roles(raw: str) -> tuple[str, ...]:
    roles = tuple(dict.fromkeys(role.strip().upper() for role in raw.split(",") if role.strip()))
    if not roles or not all(_ROLE.match(role) for role in roles):
        raise ValueError(raw)
    return roles


def _tokens(raw: str) -> tuple[str, ...]:
    return tuple(token.strip() for token in raw.split(",") if token.strip())


def _region(raw: str) -> str:
    if raw.upper() not in phonenumbers.SUPPORTED_REGIONS:
        raise ValueError(raw)
    return raw.upper()


def _retry_schedule(raw: str) -> tuple[float, ...]:
    waits = tuple(float(part) for part in raw.split(",") if part.strip())
    if not 1 <= len(waits) <= 20 or not all(0.1 <= w <= DAY for w in waits):
        raise ValueError(raw)
    return waits


# Names the host's zoneinfo directory may hold that are not IANA zones: Debian links
# "localtime" to /etc/localtime, so it would mean a different zone on each host.
_HOST_ZONE_NAMES = frozenset({"localtime"})


@lru_cache(maxsize=1)
def time_zone_names() -> frozenset[str]:
    """Every IANA time zone name the tz database knows, without the host's own aliases."""
    return frozenset(available_timezones()) - _HOST_ZONE_NAMES


def _time_zone(raw: str) -> str:
    if raw not in time_zone_names():
        raise ValueError(raw)
    return raw


class Config:
    """Settings shared by every environment: one line per variable, its bounds and default.

    Each is listed in docs/configuration.md (``python -m config`` prints the table).
    """

    DEBUG = False
    TESTING = False
    DEFAULT_SEED_FILE = SAMPLE_SEED

    SHIFTFILL_ENV = Choice(
        "production",
        ("production", "development", "testing"),
        doc="config class: production, development or testing",
    )

    # --- fanout, phone rounds, inbound replies ---
    SHIFTFILL_ESCALATION_DELAY_SECONDS = Number(
        600, low=0, high=7 * DAY, doc="delay before the phone round (at most 7 days)"
    )
    SHIFTFILL_ESCALATION_POLL_SECONDS = Number(
        1, low=0.05, high=600, doc="how often each process looks for phone rounds that are due"
    )
    SHIFTFILL_INBOUND_DEDUPE_HOURS = Number(
        72, low=0.01, high=30 * 24, doc="how long a provider message id is remembered"
    )
    SHIFTFILL_ROLES = Parsed(
        _roles,
        DEFAULT_ROLES,
        what="a comma-separated list of role names of letters, digits, _ or - (at most 32 each)",
        doc="the roles caregivers and shifts may have",
    )
    SHIFTFILL_DEFAULT_REGION = Parsed(
        _region,
        "US",
        what="a two-letter region code that phone numbers are read in, like US or GB",
        doc="region used to read phone numbers written without a country code",
    )
    SHIFTFILL_TIME_ZONE = Parsed(
        _time_zone,
        "UTC",
        what="an IANA time zone name like America/Chicago",
        doc="IANA time zone of the organization default",
    )
    SHIFTFILL_SEED_FILE = ClassDefault(
        "DEFAULT_SEED_FILE",
        shown="shiftfill/data/sample.json (none with SHIFTFILL_ENV=testing)",
        what="the path of a JSON file, or empty",
        doc="JSON with organizations, caregivers and shifts loaded at start; empty: start empty",
    )

    # --- the store ---
    SHIFTFILL_STORE_URL = Parsed(
        _store_url,
        "memory://",
        what="memory:// or redis://[:password@]host:port/db (or rediss://)",
        doc="memory:// or a Redis URL",
    )
    SHIFTFILL_REDIS_PREFIX = Text(
        "shiftfill:",
        pattern=r"[A-Za-z0-9_.:-]{1,64}",
        what="1 to 64 letters, digits or _ . : - characters",
        doc="prefix of every key shiftfill writes to Redis",
    )
    SHIFTFILL_REDIS_PORT = Whole(
        6379, low=1, high=65535, doc="the port of the local Redis that `make run-redis` starts"
    )

    # --- sending ---
    SHIFTFILL_SEND_CONCURRENCY = Whole(
        500, low=1, high=2000, doc="sends in flight per process, each on a thread of its own"
    )
    SHIFTFILL_SEND_RATE_PER_SECOND = Limit(
        low=0.1, high=10_000, doc="messages per second across all send workers (0: no cap)"
    )
    SHIFTFILL_SEND_RETRIES = Whole(
        2, low=0, high=5, doc="retries of a send after a transient provider error"
    )
    SHIFTFILL_SEND_RETRY_BACKOFF_MS = Number(
        500, low=0, high=10_000, doc="wait before the first retry; doubles for each next one"
    )
    SHIFTFILL_SEND_VISIBILITY_SECONDS = Number(
        60, low=1, high=HOUR, doc="Redis: how long a taken send is presumed in progress"
    )
    SHIFTFILL_SHUTDOWN_DRAIN_SECONDS = Number(
        10, low=0, high=300, doc="on shutdown, how long queued sends may still go out"
    )
    SHIFTFILL_NOTIFIER = Choice("log", ("log", "twilio"), doc="log or twilio")
    SHIFTFILL_NOTIFIER_LATENCY_MS = Whole(
        0, low=0, high=60_000, doc="simulated provider round-trip of the log notifier"
    )

    # --- the agency's own systems: outbound webhooks ---
    SHIFTFILL_UNFILLED_AFTER_SECONDS = Number(
        900, low=0, high=7 * DAY, doc="shift.unfilled fires this long after an open phone round"
    )
    SHIFTFILL_WEBHOOK_RETRY_SECONDS = Parsed(
        _retry_schedule,
        DEFAULT_WEBHOOK_RETRIES,
        what="a comma-separated list of 1 to 20 waits in seconds, each from 0.1 to 86400",
        doc="one retry per entry, each that long after the attempt before it",
    )
    SHIFTFILL_WEBHOOK_ALLOW_PRIVATE = Flag(
        doc="1: webhooks may use http:// and private, loopback or link-local addresses"
    )
    SHIFTFILL_WEBHOOK_TIMEOUT_SECONDS = Number(
        10, low=0.1, high=60, doc="how long one webhook attempt may take"
    )
    SHIFTFILL_WEBHOOK_POLL_SECONDS = Number(
        1, low=0.05, high=60, doc="how often each process looks for webhook deliveries due"
    )
    SHIFTFILL_WEBHOOK_DELIVERIES_KEPT = Whole(
        1000, low=1, high=100_000, doc="how many of an endpoint's newest deliveries are kept"
    )

    # --- the provider ---
    TWILIO_ACCOUNT_SID = Text("", doc="Twilio account (AC...)")
    TWILIO_AUTH_TOKEN = Text("", doc="Twilio auth token: signs and checks webhooks")
    SHIFTFILL_TWILIO_FROM = Text("", doc="E.164 number texts and calls come from")
    SHIFTFILL_TWILIO_MESSAGING_SERVICE_SID = Text("", doc="Messaging Service (MG...) for texts")
    SHIFTFILL_TWILIO_API_BASE = Url("https://api.twilio.com", doc="Twilio's REST address")
    SHIFTFILL_PUBLIC_BASE_URL = Url("", doc="the https address the provider reaches us at")

    # --- HTTP ---
    SHIFTFILL_API_TOKENS = Parsed(
        _tokens,
        NO_TOKENS,
        env="SHIFTFILL_API_TOKEN",
        what="comma-separated bearer tokens",
        doc="bearer tokens for the ops API",
    )
    SHIFTFILL_ALLOW_OPEN_OPS_API = Flag(doc="1: an open ops API beside signed webhooks is meant")
    SHIFTFILL_SECRET_KEY = Text("", doc="signs the board's session cookie; needed with a token")
    MAX_CONTENT_LENGTH = Whole(
        1024 * 1024,
        low=1024,
        high=64 * 1024 * 1024,
        env="SHIFTFILL_MAX_BODY_BYTES",
        doc="larger request bodies get 413",
    )
    SHIFTFILL_MAX_WEBHOOK_BODY_BYTES = Whole(
        16 * 1024, low=1024, high=1024 * 1024, doc="larger provider webhook bodies get 413"
    )
    # Where `make serve` has nginx listen: the one port to expose (see docs/production.md).
    SHIFTFILL_PUBLIC_HOST = Text(
        "127.0.0.1",
        pattern=r"[A-Za-z0-9.-]{1,253}|\[[0-9A-Fa-f:.]{2,45}\]|[0-9A-Fa-f:.]{2,45}",
        what="a host name or an IP address",
        doc="where `make serve`'s nginx listens",
    )
    SHIFTFILL_PUBLIC_PORT = Whole(
        8080, low=1, high=65535, doc="the port `make serve`'s nginx listens on"
    )

    # --- logs ---
    SHIFTFILL_LOG_LEVEL = Choice(
        "INFO", LOG_LEVELS, upper=True, doc="DEBUG, INFO, WARNING or ERROR (gunicorn's too)"
    )
    SHIFTFILL_LOG_FORMAT = Choice("text", ("text", "json"), doc="text or json")

    # --- the server (config/gunicorn.conf.py) ---
    SHIFTFILL_WORKERS = Whole(
        1, low=1, high=64, doc="gunicorn worker processes; above 1 only with Redis"
    )
    SHIFTFILL_THREADS = Whole(8, low=1, high=256, doc="gunicorn threads per worker")
    SHIFTFILL_BIND = Parsed(
        bind_addresses,
        DEFAULT_BIND,
        what="HOST:PORT (port 1 to 65535), [IPv6]:PORT or unix:PATH, several separated by commas",
        doc="gunicorn's bind when the command line gives none",
    )
    SHIFTFILL_ACCESS_LOG = Parsed(
        writable_log,
        "",
        what="- (standard output) or a file that can be written, in a directory that exists",
        doc="gunicorn's access log; unset: none",
    )
    PROMETHEUS_MULTIPROC_DIR = Parsed(
        directory,
        "",
        what="a directory (or a path where one can be made), not a file",
        doc="where each gunicorn worker keeps its metrics; unset: one of the server's own",
    )
    # Where the server's own metrics directory goes when none is given (the XDG base
    # directory specification: a relative value is to be ignored).
    XDG_CACHE_HOME = Text("", doc="the user's cache directory (default ~/.cache)")
    # Set by systemd (socket activation) or by gunicorn (a re-exec), never by hand:
    # the master then holds sockets it was given, and the workers must share them.
    LISTEN_FDS = Text("", doc="sockets handed over by systemd")
    GUNICORN_FD = Text("", doc="sockets handed over by a gunicorn re-exec")

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        read_settings(self, os.environ if environ is None else environ)
        if self.SHIFTFILL_WORKERS > 1 and self.SHIFTFILL_STORE_URL == "memory://":
            raise ConfigError(
                "SHIFTFILL_WORKERS must be 1 with the memory store: each process would hold its "
                "own copy of every shift. Set SHIFTFILL_STORE_URL=redis://... to run more."
            )
        self._check_provider_settings()

    def cache_home(self) -> Path:
        """The user's cache directory: ``XDG_CACHE_HOME`` when absolute, else ``~/.cache``."""
        if os.path.isabs(self.XDG_CACHE_HOME):
            return Path(self.XDG_CACHE_HOME)
        return Path.home() / ".cache"

    def _check_provider_settings(self) -> None:
        """Refuse provider settings that cannot work together, naming the variable to fix."""
        if self.SHIFTFILL_API_TOKENS and not self.SHIFTFILL_SECRET_KEY:
            raise ConfigError(
                "SHIFTFILL_SECRET_KEY must be set when SHIFTFILL_API_TOKEN is: the board's "
                "sessions are signed with it."
            )
        if self.SHIFTFILL_SECRET_KEY and len(self.SHIFTFILL_SECRET_KEY) < 16:
            raise ConfigError("SHIFTFILL_SECRET_KEY must be at least 16 characters long.")
        if self.TWILIO_AUTH_TOKEN and not self.SHIFTFILL_PUBLIC_BASE_URL:
            raise ConfigError(
                "SHIFTFILL_PUBLIC_BASE_URL must be set when TWILIO_AUTH_TOKEN is: webhook "
                "signatures are computed over the public address."
            )
        if (
            self.TWILIO_AUTH_TOKEN
            and not self.SHIFTFILL_API_TOKENS
            and not self.SHIFTFILL_ALLOW_OPEN_OPS_API
        ):
            # Signed webhooks with an open ops API is a lock on the back door only: the
            # JSON shape of /messages/inbound would still take anyone's "YES".
            raise ConfigError(
                "SHIFTFILL_API_TOKEN must be set when TWILIO_AUTH_TOKEN is: without it anyone "
                "can post replies as JSON to /messages/inbound (set "
                "SHIFTFILL_ALLOW_OPEN_OPS_API=1 if that is meant)."
            )
        if self.SHIFTFILL_NOTIFIER != "twilio":
            return
        for name in ("TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "SHIFTFILL_PUBLIC_BASE_URL"):
            if not getattr(self, name):
                raise ConfigError(f"{name} must be set when SHIFTFILL_NOTIFIER=twilio.")
        public = urlsplit(self.SHIFTFILL_PUBLIC_BASE_URL)
        if public.scheme != "https" and public.hostname not in _LOOPBACK_HOSTS:
            raise ConfigError(
                "SHIFTFILL_PUBLIC_BASE_URL must be an https address with SHIFTFILL_NOTIFIER=twilio "
                f"(http only for a loopback host), got {self.SHIFTFILL_PUBLIC_BASE_URL!r}."
            )
        if not self.TWILIO_ACCOUNT_SID.startswith("AC"):
            raise ConfigError("TWILIO_ACCOUNT_SID must start with 'AC'.")
        if not self.SHIFTFILL_TWILIO_FROM:
            raise ConfigError(
                "SHIFTFILL_TWILIO_FROM must be set when SHIFTFILL_NOTIFIER=twilio: calls are "
                "placed from it (SHIFTFILL_TWILIO_MESSAGING_SERVICE_SID only sends SMS)."
            )
        if not _E164.match(self.SHIFTFILL_TWILIO_FROM):
            raise ConfigError("SHIFTFILL_TWILIO_FROM must be an E.164 number like +15555550100.")
        service = self.SHIFTFILL_TWILIO_MESSAGING_SERVICE_SID
        if service and not service.startswith("MG"):
            raise ConfigError("SHIFTFILL_TWILIO_MESSAGING_SERVICE_SID must start with 'MG'.")


class DevelopmentConfig(Config):
    DEBUG = True


class TestingConfig(Config):
    """Tests start with an empty store unless they ask for a seed file."""

    __test__ = False  # not a pytest test class, despite its name
    TESTING = True
    DEFAULT_SEED_FILE = ""


class ProductionConfig(Config):
    pass


CONFIGS: dict[str, type[Config]] = {
    "development": DevelopmentConfig,
    "testing": TestingConfig,
    "production": ProductionConfig,
}


def config_from_env(environ: Mapping[str, str] | None = None) -> Config:
    """Build the config class named by ``SHIFTFILL_ENV`` (default ``production``)."""
    env = os.environ if environ is None else environ
    return CONFIGS[Config.SHIFTFILL_ENV.read(env)](env)


def settings_table() -> list[Setting[object]]:
    """Every variable shiftfill reads, in declaration order (for docs and tests)."""
    return list(declared(Config))
