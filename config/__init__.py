"""Configuration classes; each reads the ``SHIFTFILL_*`` environment when it is built."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import urlsplit
from zoneinfo import available_timezones

SAMPLE_SEED = str(Path(__file__).resolve().parent.parent / "shiftfill" / "data" / "sample.json")


_E164 = re.compile(r"^\+[1-9]\d{6,14}$")
_ROLE = re.compile(r"^[A-Z0-9_-]{1,32}$")
DEFAULT_ROLES = ("RN", "LPN", "LVN", "CNA", "HHA", "PCA", "PT", "OT", "ST", "MSW")
_LOOPBACK_HOSTS = {"localhost", "127.0.0.1", "::1"}


class ConfigError(ValueError):
    """An environment variable has a value shiftfill cannot use."""


class Config:
    """Settings shared by every environment (each listed in docs/configuration.md)."""

    DEBUG = False
    TESTING = False
    DEFAULT_SEED_FILE = SAMPLE_SEED

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        env = os.environ if environ is None else environ
        self.SHIFTFILL_ESCALATION_DELAY_SECONDS = _number(
            env, "SHIFTFILL_ESCALATION_DELAY_SECONDS", 600.0, minimum=0
        )
        self.SHIFTFILL_ESCALATION_POLL_SECONDS = _number(
            env, "SHIFTFILL_ESCALATION_POLL_SECONDS", 1.0, minimum=0.05
        )
        self.SHIFTFILL_INBOUND_DEDUPE_HOURS = _number(
            env, "SHIFTFILL_INBOUND_DEDUPE_HOURS", 72, minimum=0.01
        )
        self.SHIFTFILL_STORE_URL = _store_url(env)
        self.SHIFTFILL_REDIS_PREFIX = env.get("SHIFTFILL_REDIS_PREFIX", "shiftfill:").strip()
        if not re.fullmatch(r"[A-Za-z0-9_.:-]{1,64}", self.SHIFTFILL_REDIS_PREFIX):
            raise ConfigError(
                "SHIFTFILL_REDIS_PREFIX must be 1 to 64 letters, digits or _ . : - characters."
            )
        self.SHIFTFILL_WORKERS = int(_number(env, "SHIFTFILL_WORKERS", 1, minimum=1, whole=True))
        if self.SHIFTFILL_WORKERS > 1 and self.SHIFTFILL_STORE_URL == "memory://":
            raise ConfigError(
                "SHIFTFILL_WORKERS must be 1 with the memory store: each process would hold its "
                "own copy of every shift. Set SHIFTFILL_STORE_URL=redis://... to run more."
            )
        self.SHIFTFILL_SEND_VISIBILITY_SECONDS = _number(
            env, "SHIFTFILL_SEND_VISIBILITY_SECONDS", 60, minimum=1
        )
        self.SHIFTFILL_SEED_FILE = env.get("SHIFTFILL_SEED_FILE", self.DEFAULT_SEED_FILE)
        self.SHIFTFILL_SEND_CONCURRENCY = int(
            _number(env, "SHIFTFILL_SEND_CONCURRENCY", 500, minimum=1, whole=True)
        )
        rate = _number(env, "SHIFTFILL_SEND_RATE_PER_SECOND", 0, minimum=0)
        self.SHIFTFILL_SEND_RATE_PER_SECOND = rate or None
        self.SHIFTFILL_SEND_RETRIES = int(
            _number(env, "SHIFTFILL_SEND_RETRIES", 2, minimum=0, whole=True)
        )
        self.SHIFTFILL_SEND_RETRY_BACKOFF_MS = _number(
            env, "SHIFTFILL_SEND_RETRY_BACKOFF_MS", 500, minimum=0
        )
        self.SHIFTFILL_SHUTDOWN_DRAIN_SECONDS = _number(
            env, "SHIFTFILL_SHUTDOWN_DRAIN_SECONDS", 10, minimum=0
        )
        self.SHIFTFILL_NOTIFIER = _choice(env, "SHIFTFILL_NOTIFIER", "log", {"log", "twilio"})
        self.SHIFTFILL_NOTIFIER_LATENCY_MS = int(
            _number(env, "SHIFTFILL_NOTIFIER_LATENCY_MS", 0, minimum=0, whole=True)
        )
        self.SHIFTFILL_LOG_LEVEL = _choice(
            env, "SHIFTFILL_LOG_LEVEL", "INFO", {"DEBUG", "INFO", "WARNING", "ERROR"}, upper=True
        )
        self.SHIFTFILL_LOG_FORMAT = _choice(env, "SHIFTFILL_LOG_FORMAT", "text", {"text", "json"})
        self.SHIFTFILL_ROLES = _roles(env.get("SHIFTFILL_ROLES", ""))
        self.MAX_CONTENT_LENGTH = int(
            _number(env, "SHIFTFILL_MAX_BODY_BYTES", 1024 * 1024, minimum=1024, whole=True)
        )
        self.SHIFTFILL_MAX_WEBHOOK_BODY_BYTES = int(
            _number(env, "SHIFTFILL_MAX_WEBHOOK_BODY_BYTES", 16 * 1024, minimum=1024, whole=True)
        )
        # Where `make serve` has nginx listen: the one port to expose (see docs/production.md).
        self.SHIFTFILL_PUBLIC_HOST = env.get("SHIFTFILL_PUBLIC_HOST", "").strip() or "127.0.0.1"
        self.SHIFTFILL_PUBLIC_PORT = int(
            _number(env, "SHIFTFILL_PUBLIC_PORT", 8080, minimum=1, whole=True)
        )
        if self.SHIFTFILL_PUBLIC_PORT > 65535:
            raise ConfigError(
                f"SHIFTFILL_PUBLIC_PORT must be at most 65535, got {self.SHIFTFILL_PUBLIC_PORT}."
            )
        self.SHIFTFILL_DEFAULT_REGION = env.get("SHIFTFILL_DEFAULT_REGION", "US").upper()
        self.SHIFTFILL_TIME_ZONE = env.get("SHIFTFILL_TIME_ZONE", "").strip() or "UTC"
        if self.SHIFTFILL_TIME_ZONE not in available_timezones():
            raise ConfigError(
                "SHIFTFILL_TIME_ZONE must be an IANA time zone name like America/Chicago, "
                f"got {self.SHIFTFILL_TIME_ZONE!r}."
            )
        self.SHIFTFILL_API_TOKENS = _tokens(env.get("SHIFTFILL_API_TOKEN", ""))
        self.SHIFTFILL_ALLOW_OPEN_OPS_API = _flag(env, "SHIFTFILL_ALLOW_OPEN_OPS_API")
        self.SHIFTFILL_SECRET_KEY = env.get("SHIFTFILL_SECRET_KEY", "").strip()
        self.SHIFTFILL_PUBLIC_BASE_URL = _url(env, "SHIFTFILL_PUBLIC_BASE_URL")
        self.TWILIO_ACCOUNT_SID = env.get("TWILIO_ACCOUNT_SID", "").strip()
        self.TWILIO_AUTH_TOKEN = env.get("TWILIO_AUTH_TOKEN", "").strip()
        self.SHIFTFILL_TWILIO_FROM = env.get("SHIFTFILL_TWILIO_FROM", "").strip()
        self.SHIFTFILL_TWILIO_MESSAGING_SERVICE_SID = env.get(
            "SHIFTFILL_TWILIO_MESSAGING_SERVICE_SID", ""
        ).strip()
        self.SHIFTFILL_TWILIO_API_BASE = (
            _url(env, "SHIFTFILL_TWILIO_API_BASE") or "https://api.twilio.com"
        )
        self._check_provider_settings()

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
    name = _choice(env, "SHIFTFILL_ENV", "production", set(CONFIGS))
    return CONFIGS[name](env)


def _store_url(env: Mapping[str, str]) -> str:
    raw = env.get("SHIFTFILL_STORE_URL", "").strip() or "memory://"
    scheme = urlsplit(raw).scheme
    if raw != "memory://" and scheme not in {"redis", "rediss"}:
        raise ConfigError(
            "SHIFTFILL_STORE_URL must be memory:// or redis://[:password@]host:port/db "
            "(or rediss://)."
        )
    return raw


def _roles(raw: str) -> tuple[str, ...]:
    if not raw.strip():
        return DEFAULT_ROLES
    roles = tuple(dict.fromkeys(role.strip().upper() for role in raw.split(",") if role.strip()))
    bad = [role for role in roles if not _ROLE.match(role)]
    if not roles or bad:
        raise ConfigError(
            "SHIFTFILL_ROLES must be a comma-separated list of role names of letters, digits, "
            f"_ or - (at most 32 each), got {raw!r}."
        )
    return roles


def _tokens(raw: str) -> tuple[str, ...]:
    return tuple(token.strip() for token in raw.split(",") if token.strip())


def _flag(env: Mapping[str, str], name: str) -> bool:
    raw = env.get(name, "").strip().lower()
    if raw in {"", "0", "false", "no", "off"}:
        return False
    if raw in {"1", "true", "yes", "on"}:
        return True
    raise ConfigError(f"{name} must be 1 or 0, got {raw!r}.")


def _url(env: Mapping[str, str], name: str) -> str:
    raw = env.get(name, "").strip().rstrip("/")
    if not raw:
        return ""
    parts = urlsplit(raw)
    if parts.scheme not in {"http", "https"} or not parts.netloc or parts.query:
        raise ConfigError(f"{name} must be an http(s) address without a query, got {raw!r}.")
    return raw


def _number(
    env: Mapping[str, str], name: str, default: float, *, minimum: float, whole: bool = False
) -> float:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw) if whole else float(raw)
    except ValueError:
        kind = "a whole number" if whole else "a number"
        raise ConfigError(f"{name} must be {kind}, got {raw!r}.") from None
    if value < minimum:
        raise ConfigError(f"{name} must be at least {minimum}, got {raw!r}.")
    return value


def _choice(
    env: Mapping[str, str], name: str, default: str, allowed: set[str], *, upper: bool = False
) -> str:
    raw = env.get(name, "").strip() or default
    value = raw.upper() if upper else raw.lower()
    if value not in allowed:
        raise ConfigError(f"{name} must be one of {', '.join(sorted(allowed))}, got {raw!r}.")
    return value
