"""Loading the sample data (``SHIFTFILL_SEED_FILE``) through the API's own schemas.

A seeded shift gives its times either as ``start_time``/``end_time``, as the API
takes them, or relative to start-up: ``"start_in_hours": 6, "hours": 12`` starts
six hours after the process starts and lasts twelve. The shipped sample uses the
relative form, so ``make run`` serves open shifts whatever the day.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

import marshmallow as ma
from flask import Flask

from shiftfill.adapters.store_outage import StartupWork
from shiftfill.api.caregivers.schemas import CaregiverCreateSchema
from shiftfill.api.clients.schemas import ClientCreateSchema
from shiftfill.api.organizations.schemas import OrganizationCreateSchema
from shiftfill.api.shifts.schemas import ShiftCreateSchema
from shiftfill.services.dependencies import Dependencies
from shiftfill.services.errors import ServiceError
from shiftfill.services.ports import StoreUnavailable
from shiftfill.services.seeding import seed

log = logging.getLogger(__name__)


class SeedError(RuntimeError):
    """The seed file cannot be loaded; the message says where and why."""


class SeedShiftSchema(ShiftCreateSchema):
    """A shift of the seed file: absolute times, or ``start_in_hours`` and ``hours``."""

    RELATIVE = ("start_in_hours", "hours")

    def __init__(self, *, now: datetime, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.now = now

    @ma.pre_load
    def relative_times(self, data: Any, **kwargs: Any) -> Any:
        if not isinstance(data, dict) or not any(key in data for key in self.RELATIVE):
            return data
        data = dict(data)
        errors: dict[str, list[str]] = {}
        for key in ("start_time", "end_time"):
            if key in data:
                errors[key] = ["Give start_time and end_time, or start_in_hours and hours."]
        values = {}
        for key, low, high in (("start_in_hours", -24 * 366, 24 * 366), ("hours", 0, 72)):
            value = data.pop(key, None)
            if isinstance(value, bool) or not isinstance(value, int | float):
                errors[key] = ["Must be a number."]
            elif not low < value <= high:
                errors[key] = [f"Must be more than {low} and at most {high}."]
            else:
                values[key] = value
        if errors:
            raise ma.ValidationError(errors)
        start = self.now + timedelta(hours=values["start_in_hours"])
        data["start_time"] = start.isoformat()
        data["end_time"] = (start + timedelta(hours=values["hours"])).isoformat()
        return data


def init_app(app: Flask, deps: Dependencies, startup: StartupWork) -> None:
    """Load the seed file named by ``SHIFTFILL_SEED_FILE``; an empty name loads nothing.

    A file that cannot be used stops start-up (``SeedError``). A store that does
    not answer yet does not: the validated records wait in ``startup`` and are
    added as soon as it answers.
    """
    path = app.config.get("SHIFTFILL_SEED_FILE") or ""
    if not path:
        return
    with app.app_context():
        records = read_seed(deps, Path(path))
        try:
            add_seed(deps, records)
        except StoreUnavailable as exc:
            startup.add(
                f"loading the seed file {records.path.name}", partial(_later, deps, records), exc
            )


@dataclass(frozen=True)
class SeedRecords:
    """The validated records of one seed file, ready to be added."""

    path: Path
    organizations: list[dict[str, Any]]
    caregivers: list[dict[str, Any]]
    shifts: list[dict[str, Any]]
    clients: list[dict[str, Any]]


def read_seed(deps: Dependencies, path: Path) -> SeedRecords:
    """Read and validate every record of ``path``; relative times count from now."""
    data = _read(path)
    try:
        agencies = OrganizationCreateSchema(many=True).load(data.get("organizations", []))
        people = CaregiverCreateSchema(many=True).load(data.get("caregivers", []))
        patients = ClientCreateSchema(many=True).load(data.get("clients", []))
        open_shifts = SeedShiftSchema(many=True, now=deps.clock()).load(data.get("shifts", []))
    except ma.ValidationError as exc:
        raise SeedError(f"Seed file {path} is invalid: {exc.messages}") from exc
    return SeedRecords(path, agencies, people, open_shifts, patients)


def add_seed(deps: Dependencies, records: SeedRecords) -> None:
    """Add the records the store does not hold; ``StoreUnavailable`` if it does not answer."""
    try:
        added = seed(
            deps, records.caregivers, records.shifts, records.organizations, records.clients
        )
    except ServiceError as exc:
        raise SeedError(f"Seed file {records.path} is invalid: {exc.message}") from exc
    log.info("seed %s: added %d caregivers and %d shifts", records.path.name, *added)


def _later(deps: Dependencies, records: SeedRecords) -> None:
    """Add the seed once the store answers; a seed it refuses then is logged, not raised.

    The process is serving by then, so there is no start-up left to stop.
    """
    try:
        add_seed(deps, records)
    except SeedError as exc:
        log.error("%s; the process serves without it", exc)


def _read(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise SeedError(f"Seed file {path} cannot be read: {exc.strerror}") from exc
    except (ValueError, UnicodeDecodeError) as exc:
        raise SeedError(f"Seed file {path} is not valid JSON: {exc}") from exc
    if not isinstance(data, dict) or set(data) - {
        "organizations",
        "caregivers",
        "clients",
        "shifts",
    }:
        raise SeedError(
            f"Seed file {path} must be an object with 'organizations', 'caregivers', "
            "'clients' and 'shifts'."
        )
    return data
