"""API fuzzing: schemathesis against the app's own OpenAPI document, in process.

Bounded and derandomized (a fixed seed), so CI sees the same examples every run.
Two apps: one with authentication off, so generated requests reach the handlers,
and one with bearer tokens and webhook signatures on, to fuzz the auth layer.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import schemathesis
from flask import Flask
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.specs.openapi.checks import ignored_auth, positive_data_acceptance
from schemathesis.specs.openapi.formats import (
    STRING_FORMATS,
    rfc3339_values,
    unregister_string_format,
)

from tests.conftest import build_app

TOKEN = "fuzz-token"
BEARER = {"Authorization": f"Bearer {TOKEN}"}
# Cross-field rules (end_time after start_time) and phone-number validity are not
# expressible in OpenAPI, so a schema-valid request may rightly get a 422.
NOT_EXPRESSIBLE = [positive_data_acceptance]


# Times at the ends of the calendar, where converting an offset to UTC overflows; the
# default generator reaches them too rarely for a bounded run to find them.
CALENDAR_EDGES = [
    "0001-01-01T00:00:00+05:00",
    "0001-01-01T00:00:00Z",
    "0001-01-01T04:59:59.999999+05:00",
    "9999-12-31T20:00:00-05:00",
    "9999-12-31T23:59:59.999999Z",
    "9999-12-31T23:59:59+00:00",
]


@pytest.fixture(autouse=True)
def times_at_the_calendar_edges() -> Iterator[None]:
    """Generate ``date-time`` values at the calendar's ends about half the time."""
    default = STRING_FORMATS.get("date-time")
    schemathesis.openapi.format(
        "date-time", st.sampled_from(CALENDAR_EDGES) | rfc3339_values("date-time")
    )
    yield
    if default is None:
        unregister_string_format("date-time")
    else:
        schemathesis.openapi.format("date-time", default)


HTTP_METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}


def documented(app: Flask) -> set[str]:
    """Every operation the app's OpenAPI document lists, as ``METHOD /path``."""
    paths = app.test_client().get("/openapi.json", headers=BEARER).json["paths"]
    return {
        f"{method.upper()} {path}"
        for path, item in paths.items()
        for method in item
        if method in HTTP_METHODS
    }


def fuzz(app: Flask, *, excluded: list[object], max_examples: int) -> list[str]:
    """Run every operation of the app's schema; return the failures found.

    Every documented operation is fuzzed, or the run fails: a document that lost its
    operations must not pass for one without failures.
    """
    schema = schemathesis.openapi.from_wsgi("/openapi.json", app, headers=BEARER)
    failures: list[str] = []
    fuzzed: set[str] = set()
    for result in schema.get_all_operations():
        operation = result.ok()
        fuzzed.add(operation.label)

        @given(case=operation.as_strategy())
        @settings(
            max_examples=max_examples,
            derandomize=True,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def run(case: schemathesis.Case) -> None:
            case.call_and_validate(headers=BEARER, excluded_checks=excluded)

        try:
            run()
        except BaseException as failure:  # schemathesis raises an exception group
            failures.append(f"{operation.label}: {failure}")
    expected = documented(app)
    assert len(expected) >= 30, expected  # 31 operations today: the document is whole
    assert fuzzed == expected
    return failures


@pytest.fixture
def open_app() -> Iterator[Flask]:
    app = build_app({})
    yield app
    app.extensions["shiftfill"].shutdown()


@pytest.fixture
def guarded_app() -> Iterator[Flask]:
    app = build_app(
        {
            "SHIFTFILL_API_TOKEN": TOKEN,
            "SHIFTFILL_SECRET_KEY": "board-signing-key-0123456789",
            "TWILIO_AUTH_TOKEN": "twilio-token",
            "SHIFTFILL_PUBLIC_BASE_URL": "https://shiftfill.example.com",
        }
    )
    yield app
    app.extensions["shiftfill"].shutdown()


def test_handlers_never_5xx_and_answer_as_documented(open_app: Flask) -> None:
    failures = fuzz(open_app, excluded=[ignored_auth, *NOT_EXPRESSIBLE], max_examples=40)
    assert failures == [], "\n\n".join(failures)


def test_the_auth_layer_refuses_and_answers_as_documented(guarded_app: Flask) -> None:
    failures = fuzz(guarded_app, excluded=NOT_EXPRESSIBLE, max_examples=10)
    assert failures == [], "\n\n".join(failures)
