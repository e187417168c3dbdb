"""Loading the sample data (``SHIFTFILL_SEED_FILE``) through the API's own schemas."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import marshmallow as ma
from flask import Flask

from shiftfill.adapters.bulk_load import bulk_insert
from shiftfill.api.caregivers.schemas import CaregiverCreateSchema
from shiftfill.api.organizations.schemas import OrganizationCreateSchema
from shiftfill.api.shifts.schemas import ShiftCreateSchema
from shiftfill.services.dependencies import Dependencies
from shiftfill.services.errors import ServiceError
from shiftfill.services.seeding import seed

log = logging.getLogger(__name__)


class SeedError(RuntimeError):
    """The seed file cannot be loaded; the message says where and why."""


def init_app(app: Flask, deps: Dependencies) -> None:
    """Load the seed file named by ``SHIFTFILL_SEED_FILE``; an empty name loads nothing."""
    path = app.config.get("SHIFTFILL_SEED_FILE") or ""
    if path:
        with app.app_context():
            load_seed(deps, Path(path))


def load_seed(deps: Dependencies, path: Path) -> None:
    """Validate every record of ``path`` first, then add those the store does not hold."""
    data = _read(path)
    try:
        agencies = OrganizationCreateSchema(many=True).load(data.get("organizations", []))
        people = CaregiverCreateSchema(many=True).load(data.get("caregivers", []))
        open_shifts = ShiftCreateSchema(many=True).load(data.get("shifts", []))
    except ma.ValidationError as exc:
        raise SeedError(f"Seed file {path} is invalid: {exc.messages}") from exc
    try:
        with bulk_insert(len(people)):
            added = seed(deps, people, open_shifts, agencies)
    except ServiceError as exc:
        raise SeedError(f"Seed file {path} is invalid: {exc.message}") from exc
    log.info("seed %s: added %d caregivers and %d shifts", path.name, *added)


def _read(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise SeedError(f"Seed file {path} cannot be read: {exc.strerror}") from exc
    except (ValueError, UnicodeDecodeError) as exc:
        raise SeedError(f"Seed file {path} is not valid JSON: {exc}") from exc
    if not isinstance(data, dict) or set(data) - {"organizations", "caregivers", "shifts"}:
        raise SeedError(
            f"Seed file {path} must be an object with 'organizations', 'caregivers' and 'shifts'."
        )
    return data
