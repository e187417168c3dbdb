"""``/voice/gather``: a caregiver's keypad press or spoken answer on a phone-round call."""

from __future__ import annotations

from typing import Any

from flask import Response

from shiftfill.api.blueprint import Blueprint
from shiftfill.api.messages.schemas import GatherSchema
from shiftfill.api.messages.views import PROVIDER_SECURITY, answer_on_call

blp = Blueprint("voice", __name__, url_prefix="/voice", description="Call answers")


@blp.post("/gather")
@blp.doc(operationId="postCallAnswer", security=PROVIDER_SECURITY)
@blp.arguments(GatherSchema, location="form")
@blp.response(200, description="TwiML <Say> with the outcome.")
def gather(data: dict[str, Any]) -> Response:
    """Claim or decline for the called caregiver; ``1`` or yes accepts, ``2`` or no declines."""
    # On a call shiftfill placed, ``From`` is shiftfill's own number; ``To`` is the caregiver.
    return answer_on_call(data, fallback_phone=data.get("To"))
