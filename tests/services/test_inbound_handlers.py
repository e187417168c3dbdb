"""The inbound use case, called directly: a reply claims, declines, or is answered with help."""

from __future__ import annotations

from shiftfill.domain.model import Channel
from shiftfill.domain.rules import Outcome
from shiftfill.services.dependencies import Dependencies
from shiftfill.services.inbound import InboundMessage, handle_call_reply, handle_inbound
from tests.fakes import RecordingMetrics


def test_a_text_from_an_unknown_number_is_answered_and_counted(
    memory_deps: Dependencies, metrics: RecordingMetrics
) -> None:
    result = handle_inbound(memory_deps, InboundMessage(sender="+15550009999", body="yes"))
    assert result.outcome is Outcome.UNKNOWN_SENDER
    assert result.caregiver_id is None
    assert metrics.inbound == {"unknown_sender": 1}


def test_a_call_reply_from_an_unknown_call_and_number_is_counted_as_a_text_is(
    memory_deps: Dependencies, metrics: RecordingMetrics
) -> None:
    result = handle_call_reply(
        memory_deps, call_sid="CA-unknown", said="1", fallback_phone="+15550009999"
    )
    assert result.outcome is Outcome.UNKNOWN_SENDER
    assert metrics.inbound == {"unknown_sender": 1}
    handle_inbound(
        memory_deps, InboundMessage(sender="+15550009999", body="1", channel=Channel.CALL)
    )
    assert metrics.inbound == {"unknown_sender": 2}
