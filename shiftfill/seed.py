"""Loading the sample data (``SHIFTFILL_SEED_FILE``) through the API's own schemas."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import marshmallow as ma
from flask import Flask

from shiftfill.api.caregivers.schemas import CaregiverCreateSchema
from shiftfill.api.shifts.schemas import ShiftCreateSchema
from shiftfill.services import caregivers, shifts
from shiftfill.services.context import Context
from shiftfill.services.errors import ServiceError


class SeedError(RuntimeError):
    """The seed file cannot be loaded; the message says where and why."""


def init_app(app: Flask, context: Context) -> None:
    """Load the seed file named by ``SHIFTFILL_SEED_FILE``; an empty name loads nothing."""
    path = app.config.get("SHIFTFILL_SEED_FILE") or ""
    if path:
        with app.app_context():
            load_seed(context, Path(path))


def load_seed(context: Context, path: Path) -> None:
    """Validate every record of ``path`` first, then store them all."""
    data = _read(path)
    try:
        people = CaregiverCreateSchema(many=True).load(data.get("caregivers", []))
        open_shifts = ShiftCreateSchema(many=True).load(data.get("shifts", []))
    except ma.ValidationError as exc:
        raise SeedError(f"Seed file {path} is invalid: {exc.messages}") from exc
    try:
        caregivers.register_caregivers(context, people)
        for record in open_shifts:
            shifts.create_shift(context, **record)
    except ServiceError as exc:
        raise SeedError(f"Seed file {path} is invalid: {exc.message}") from exc


def _read(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise SeedError(f"Seed file {path} cannot be read: {exc.strerror}") from exc
    except (ValueError, UnicodeDecodeError) as exc:
        raise SeedError(f"Seed file {path} is not valid JSON: {exc}") from exc
    if not isinstance(data, dict) or set(data) - {"caregivers", "shifts"}:
        raise SeedError(f"Seed file {path} must be an object with 'caregivers' and 'shifts'.")
    return data
