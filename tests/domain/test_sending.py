"""One outbound message's decisions: claim an attempt, settle it, drop it."""

from datetime import UTC, datetime, timedelta

from shiftfill.domain import sending
from shiftfill.domain.model import Channel, Notification, NotificationStatus, Shift

NOW = datetime(2026, 11, 28, 14, 0, tzinfo=UTC)
TEXT = Notification.queued("sh_1", "cg_1", Channel.SMS, NOW)
CALL = Notification.queued("sh_1", "cg_1", Channel.CALL, NOW)


def test_only_the_caller_who_saw_the_current_attempt_count_claims_the_send() -> None:
    claimed = sending.start_attempt(TEXT, seen_attempts=0)
    assert claimed.changed and claimed.notification.attempts == 1 and claimed.events == ()
    late = sending.start_attempt(claimed.notification, seen_attempts=0)
    assert (late.changed, late.notification) == (False, claimed.notification)


def test_a_send_settles_forward_with_its_event_and_never_back() -> None:
    sent = sending.settle(CALL, NotificationStatus.SENT, now=NOW, provider_id="CA1")
    assert (sent.notification.status, sent.notification.sent_at) == ("sent", NOW)
    assert [(e.type, e.caregiver_id) for e in sent.events] == [("call_placed", "cg_1")]
    answered = sending.settle(sent.notification, NotificationStatus.DELIVERED, now=NOW)
    assert answered.notification.provider_id == "CA1"
    assert [e.type for e in answered.events] == ["call_answered"]
    again = sending.settle(answered.notification, NotificationStatus.SENT, now=NOW)
    assert (again.changed, again.events) == (False, ())


def test_a_moot_message_is_dropped_without_an_event_only_while_queued() -> None:
    dropped = sending.drop(TEXT, "the caregiver opted out")
    assert dropped.notification.error == "not sent: the caregiver opted out"
    assert (dropped.notification.status, dropped.events) == ("failed", ())
    assert not sending.drop(dropped.notification, "again").changed


def test_a_send_that_fails_is_announced_about_its_shift_once() -> None:
    shift = Shift("sh_1", "org_1", "RN", NOW, NOW + timedelta(hours=8))
    failed = sending.settle(TEXT, NotificationStatus.FAILED, now=NOW, error="30003", shift=shift)
    [message] = failed.messages
    assert (message.type, message.organization_id, message.shift) == (
        "notification.failed",
        "org_1",
        shift,
    )
    assert message.fields["notification"]["status"] == "failed"
    assert message.fields["notification"]["error"] == "30003"
    again = sending.settle(
        failed.notification, NotificationStatus.FAILED, now=NOW, error="30003", shift=shift
    )
    assert (again.changed, again.messages) == (False, ())
    sent = sending.settle(TEXT, NotificationStatus.SENT, now=NOW, shift=shift)
    assert sent.messages == ()
    assert sending.drop(TEXT, "the caregiver opted out").messages == ()  # moot: never tried
