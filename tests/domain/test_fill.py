"""The decisions of a whole step: each returns everything the step changes."""

from datetime import timedelta

from shiftfill.domain import fill, rules
from shiftfill.domain.contact import NotAsked
from shiftfill.domain.model import Caregiver, Channel, Event, EventType, Organization, Shift
from tests.domain.test_rules import DELAY, NOW, fanned_out, open_shift

ORG = Organization("org_1", "Sunrise", "UTC")


class Reads:
    """A step's reads, as a test sets them."""

    def __init__(
        self, code: str = "1234", assigned: list[Shift] | None = None, opted_out: bool = False
    ) -> None:
        self.code, self.assigned, self.opted_out = code, assigned or [], opted_out

    def free_code(self) -> str:
        return self.code

    def assignments(self, caregiver_id: str, since: object) -> list[Shift]:
        return self.assigned

    def organization(self, organization_id: str) -> Organization | None:
        return ORG

    def caregiver(self, caregiver_id: str) -> Caregiver | None:
        return Caregiver(caregiver_id, "N", "RN", "+15555550101", opted_out=self.opted_out)

    def assignments_and_organization(
        self, caregiver_id: str, since: object, organization_id: str
    ) -> tuple[list[Shift], Organization | None]:
        return self.assigned, ORG


def test_a_fanout_carries_its_events_its_texts_and_its_index_changes() -> None:
    change = fill.fan_out(
        open_shift(),
        Reads("4821"),
        now=NOW,
        qualified=["cg_1", "cg_3"],
        not_offered={"cg_5": NotAsked.CONFLICT},
        escalation_delay=DELAY,
    )
    assert change.changed and change.outreach is not None
    assert (change.outreach.channel, list(change.outreach.caregiver_ids)) == (
        Channel.SMS,
        ["cg_1", "cg_3"],
    )
    assert [(e.type, e.detail) for e in change.events] == [
        ("fanout_started", {"offered": 2, "offer_code": "4821", "not_offered": {"conflict": 1}})
    ]
    assert change.indexes is not None
    assert (change.indexes.opened, change.indexes.phone_round) == ("4821", NOW + DELAY)


def test_a_repeated_fanout_changes_records_and_sends_nothing() -> None:
    change = fill.fan_out(
        fanned_out(), Reads(), now=NOW, qualified=["cg_1"], not_offered={}, escalation_delay=DELAY
    )
    assert (change.changed, change.events, change.outreach, change.indexes) == (
        False,
        (),
        None,
        None,
    )


def test_a_phone_round_honours_a_decline_that_landed_after_its_reasons_were_read() -> None:
    shift = fanned_out()
    caregivers = {cid: Caregiver(cid, cid, "RN", "+1555") for cid in ("cg_1", "cg_3", "cg_5")}
    reasons = fill.why_not_called(shift, caregivers, {}, at=NOW + DELAY, organization=ORG)
    assert reasons == {"cg_1": None, "cg_3": None, "cg_5": None}
    declined = rules.decline(shift, "cg_3").shift
    change = fill.phone_round(declined, Reads(), at=NOW + DELAY, reasons=reasons, organization=ORG)
    assert change.outreach is not None and list(change.outreach.caregiver_ids) == ["cg_1", "cg_5"]
    assert [(e.type, e.detail) for e in change.events] == [("escalated", {"calls": 2})]
    assert change.indexes is not None and change.indexes.phone_round is None


def test_a_claim_notes_the_reply_and_what_it_came_to_and_says_which_organization_it_read() -> None:
    received = Event(at=NOW, type=EventType.REPLY_RECEIVED, caregiver_id="cg_1")
    clash = Reads(
        assigned=[Shift("other", "org_1", "RN", NOW + timedelta(days=1), NOW + timedelta(days=2))]
    )
    answer = {"caregiver_id": "cg_1", "received": received, "now": NOW, "fallback": ORG}
    refused = fill.answer(fanned_out(), clash, accepts=True, **answer)  # type: ignore[arg-type]
    assert (refused.changed, refused.outcome, refused.organization) == (False, "conflict", ORG)
    assert [e.type for e in refused.events] == ["reply_received", "claim_refused"]
    stopped = fill.answer(fanned_out(), Reads(opted_out=True), accepts=True, **answer)  # type: ignore[arg-type]
    assert (stopped.changed, stopped.outcome) == (False, "no_open_offer")  # a STOP read in the step
    assert [e.type for e in stopped.events] == ["reply_received"]
    won = fill.answer(fanned_out(), Reads(), accepts=True, **answer)  # type: ignore[arg-type]
    assert won.outcome == "assigned" and [e.type for e in won.events][-1] == "assigned"
    assert won.indexes is not None and won.indexes.assigned_to == "cg_1"
