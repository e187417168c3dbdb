"""The storage port and the outside world, as the use cases see them.

A store is seven repositories and an outbox. Every change of state is one call
on one of them, and that call is one atomic step: it reads the current record,
runs the pure domain decision it is given, and writes what the decision returns.
A shift's decision returns a ``ShiftChange`` that carries everything the step
changes (the new shift, its events, the notifications it asks for, its index
changes); the store only persists it. Two stores implement this port: the
in-memory one (a lock) and the Redis one (optimistic steps, checked by Redis).
The contract suite in ``tests/store`` holds both to it.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol, TypeVar

from shiftfill.domain.contact import Reach
from shiftfill.domain.model import (
    Caregiver,
    Client,
    Event,
    Notification,
    Organization,
    Shift,
    ShiftStatus,
)
from shiftfill.domain.rules import CaregiverChange, ShiftChange, StepReads
from shiftfill.domain.sending import NotificationChange
from shiftfill.domain.webhooks import Delivery, Webhook, WebhookMessage

R = TypeVar("R")
# The caregiver who sent a message, and the shifts recently offered to them.
Sender = tuple[Caregiver, list[Shift]]

# A shift's decision: the shift as the step read it, and what else the step may read.
Decide = Callable[[Shift, StepReads], ShiftChange]
# An edit of a caregiver: the caregiver as the step read it, to the change to store.
ChangeCaregiver = Callable[[Caregiver], CaregiverChange]
# A notification's decision, likewise.
ChangeNotification = Callable[[Notification], NotificationChange]
# A message and its organization's endpoints, to the deliveries it makes.
Expand = Callable[[WebhookMessage, Sequence[Webhook]], Sequence[Delivery]]


class DuplicateKey(Exception):
    """A record with this identity already exists."""

    def __init__(self, field: str, value: str) -> None:
        super().__init__(f"{field} {value!r} is already taken.")
        self.field = field
        self.value = value


class ClientElsewhere(Exception):
    """A new shift names a client that is not its organization's (``rules.client_elsewhere``)."""

    def __init__(self, shift: Shift) -> None:
        super().__init__(
            f"Shift {shift.id} names client {shift.client_id} of another organization."
        )
        self.shift = shift


class ClientHeld(Exception):
    """A client's move would leave open shifts naming them in their organization as stored,
    ``organization_id`` (``rules.shifts_holding``); ``shift_ids`` are those shifts."""

    def __init__(self, client_id: str, organization_id: str, shift_ids: Sequence[str]) -> None:
        super().__init__(
            f"Client {client_id} has open shifts in organization {organization_id}: "
            f"{', '.join(shift_ids)}."
        )
        self.client_id = client_id
        self.organization_id = organization_id
        self.shift_ids = list(shift_ids)


class StoreUnavailable(Exception):
    """The store cannot be reached; nothing of the request was written."""


@dataclass(frozen=True, slots=True)
class Outgoing:
    """A notification with what sending it takes, read together.

    Its shift and caregiver (``None`` when gone), the shift's organization as
    stored (``None`` when it is not) and the shift's client (``None``: it has
    none, or it is gone).
    """

    notification: Notification
    shift: Shift | None
    caregiver: Caregiver | None
    organization: Organization | None
    client: Client | None = None


@dataclass(frozen=True, slots=True)
class RecordCounts:
    """How many records a store holds, so an operator can tell a full store from a fresh one."""

    caregivers: int
    shifts: int
    notifications: int


class CaregiverRepository(Protocol):
    """Caregivers by id, phone and role."""

    def add_many(self, caregivers: Sequence[Caregiver]) -> None:
        """Store all of ``caregivers`` or, if any id or phone is taken, none (``DuplicateKey``)."""

    def add_absent(self, caregivers: Sequence[Caregiver]) -> list[Caregiver]:
        """Store the caregivers whose id is not stored yet; return those stored.

        A caregiver whose phone belongs to a stored one is skipped too.
        """

    def get(self, caregiver_id: str) -> Caregiver | None:
        """Return the caregiver with this id, or ``None``."""

    def get_many(self, caregiver_ids: Iterable[str]) -> list[Caregiver]:
        """Return the caregivers with these ids, skipping unknown ones."""

    def by_phone(self, phone: str) -> Caregiver | None:
        """Return the caregiver with this E.164 number, or ``None``."""

    def all(self, role: str | None = None) -> list[Caregiver]:
        """List caregivers in the order they joined, optionally of one role."""

    def qualified_ids(self, role: str) -> list[str]:
        """List the caregivers of ``role`` who may be contacted (not opted out, active).

        In the order they joined, or last became contactable again.
        """

    def reach_of_role(self, role: str) -> dict[str, Reach]:
        """The ``Reach`` (place, range, credentials) of each caregiver ``qualified_ids`` lists.

        Kept beside the role index, so matching reads no caregiver record.
        """

    def update(self, caregiver_id: str, change: ChangeCaregiver) -> CaregiverChange:
        """Run ``change`` on the stored caregiver and persist what it returns, in one atomic step.

        When the change says the caregiver changed, the step stores it (same id),
        moves the phone and role indexes to its new values, appends its events
        to the caregiver's own trail and puts its messages in the webhook outbox
        (an opt-out, ``rules.opt_out``, is one such change); else it writes
        nothing. A new phone that belongs to another caregiver is
        ``DuplicateKey("phone", ...)`` and changes nothing. Returns the change;
        ``KeyError`` for an unknown id.
        """

    def events(self, caregiver_id: str) -> list[Event]:
        """Return the caregiver's own trail (changes made on no shift), oldest first."""


class OrganizationRepository(Protocol):
    """Organizations by id, in the order they were added."""

    def add(self, organization: Organization) -> None:
        """Store a new organization; ``DuplicateKey`` when the id is taken."""

    def add_absent(self, organizations: Sequence[Organization]) -> list[Organization]:
        """Store the organizations whose id is not stored yet; return those stored."""

    def get(self, organization_id: str) -> Organization | None:
        """Return the organization with this id, or ``None``."""

    def all(self) -> list[Organization]:
        """List organizations in the order they were added."""

    def update(
        self,
        organization_id: str,
        change: Callable[[Organization], Organization],
        *,
        absent: Organization | None = None,
    ) -> Organization:
        """Store ``change`` of the stored organization (or of ``absent`` when none is stored).

        One atomic step. ``KeyError`` when nothing is stored and ``absent`` is ``None``.
        """


class ClientRepository(Protocol):
    """Clients (an agency's patients) by id, in the order they were added."""

    def add(self, client: Client) -> None:
        """Store a new client; ``DuplicateKey`` when the id is taken."""

    def add_absent(self, clients: Sequence[Client]) -> list[Client]:
        """Store the clients whose id is not stored yet; return those stored."""

    def get(self, client_id: str) -> Client | None:
        """Return the client with this id, or ``None``."""

    def all(self, organization_id: str | None = None) -> list[Client]:
        """List clients in the order they were added, optionally of one organization."""

    def update(self, client_id: str, change: Callable[[Client], Client]) -> Client:
        """Store ``change`` of the stored client in one atomic step; ``KeyError`` when none is.

        A claim reads the client in its own step, so an exclusion stored first is
        honoured by every claim decided after it. A change of organization that open
        shifts of the old one hold back (``rules.shifts_holding``, judged in the same
        step as the write, against every shift added before it) is not stored:
        ``ClientHeld``.
        """


class ShiftRepository(Protocol):
    """Shifts, their fanouts, the offer codes in use and the phone rounds to come."""

    def add(self, shift: Shift) -> None:
        """Store a new shift; ``DuplicateKey`` when the id is taken.

        A shift naming a client is stored only if the client, as stored at that moment,
        is one of the shift's organization (``rules.client_elsewhere``): else
        ``ClientElsewhere``. With ``ClientRepository.update``'s own check, a client's
        move and a new shift naming them never both land on different organizations.
        """

    def add_absent(self, shifts: Sequence[Shift]) -> list[Shift]:
        """Store the shifts whose id is not stored yet; return those stored."""

    def get(self, shift_id: str) -> Shift | None:
        """Return the shift with this id, or ``None``."""

    def all(self, status: ShiftStatus | None = None, role: str | None = None) -> list[Shift]:
        """List shifts in the order they were created, optionally filtered."""

    def apply(self, shift_id: str, decide: Decide) -> ShiftChange:
        """Run ``decide`` on the stored shift and persist the change it returns, in one step.

        ``decide`` gets the shift and a ``StepReads`` for what else it must read in
        the same step: a free offer code (in use only if the change opens a
        fanout, so a refused fanout holds none), a caregiver's assignments (every
        assignment enters them in the step that makes it, so two claims by one
        caregiver on overlapping shifts never both succeed: I7 in docs/invariants.md), the
        organization as stored (a claim meets the hours cap it has at that moment).
        The store writes the new shift when it changed, appends the change's
        events, queues its outreach except to caregivers who already have a
        notification on that channel for this shift (I2 in docs/invariants.md), and applies its
        index changes. What ``decide`` raises writes nothing. A store may run
        ``decide`` more than once (optimistic steps): it must be pure.
        ``KeyError`` for an unknown id.
        """

    def assignments(self, caregiver_ids: Iterable[str], since: datetime) -> dict[str, list[Shift]]:
        """Map each of ``caregiver_ids`` holding shifts that end after ``since`` to those shifts."""

    def offers_for(self, caregiver: Caregiver) -> list[Shift]:
        """List the shifts recently offered to a caregiver, most recent fanout first."""

    def offers_by_phone(self, phone: str) -> Sender | None:
        """The caregiver with this E.164 number and ``offers_for`` them, read together.

        ``None`` for a number no caregiver has. What a reply reads first, in one
        round trip where a store has them.
        """

    def due_phone_rounds(self, now: datetime) -> list[str]:
        """List the open shifts whose phone round is due at ``now``, earliest first."""

    def due_waves(self, now: datetime) -> list[str]:
        """List the open shifts whose next wave is due at ``now``, earliest first."""

    def due_unfilled(self, now: datetime) -> list[str]:
        """List the open shifts whose unfilled alarm is due at ``now``, earliest first."""


class NotificationRepository(Protocol):
    """Notifications, at most one per shift, caregiver and channel."""

    def get(self, notification_id: str) -> Notification | None:
        """Return the notification with this id, or ``None``."""

    def by_provider_id(self, provider_id: str) -> Notification | None:
        """Find a notification by the provider's id for it (a message or call id)."""

    def for_shift(self, shift_id: str) -> list[Notification]:
        """Return a shift's texts, then its calls, in the order they were queued."""

    def update(self, notification_id: str, change: ChangeNotification) -> NotificationChange:
        """Run ``change`` on the stored notification and persist what it returns, in one step.

        When it changed, the step writes it, indexes its provider id, appends
        its events to the shift's trail and puts its messages in the webhook
        outbox; else it writes nothing. Returns the
        change; ``KeyError`` for an unknown id.
        """

    def update_many(
        self, notification_ids: Sequence[str], change: ChangeNotification
    ) -> dict[str, NotificationChange]:
        """``update`` each notification, each in its own atomic step; unknown ids are left out.

        The send workers settle hundreds of sends at once: a store may send the
        steps together, but each one still applies only to the state it decided on.
        """


class EventLog(Protocol):
    """The append-only audit trail of each shift."""

    def append(self, shift_id: str, *events: Event) -> None:
        """Add events to the end of a shift's trail."""

    def for_shift(self, shift_id: str) -> list[Event]:
        """Return a shift's events, oldest first."""


class InboundLog(Protocol):
    """The outcome of each provider message id, kept for the dedupe window."""

    def once(
        self,
        message_id: str,
        sender: str,
        compute: Callable[[Caregiver, list[Shift]], R],
        encode: Callable[[R], str],
        decode: Callable[[str], R],
    ) -> tuple[R, bool] | None:
        """Return the outcome for ``message_id`` and whether this call computed it.

        Reads the caregiver with the number ``sender`` and their offers (as
        ``ShiftRepository.offers_by_phone``) and, when the id is new, takes a lease
        on it, in one round trip where a store has them; then computes the outcome
        from them. A concurrent duplicate, in any process, waits for it instead of
        computing again. ``None`` when no caregiver has that number, whatever is
        remembered of the id: nothing is read or kept of it, as nothing is kept when
        ``compute`` raises. ``encode`` and ``decode`` turn the outcome into text and
        back, for a store that keeps it outside the process.
        """


class Outbox(Protocol):
    """The queue of notifications waiting to be sent, fed by the shift operations."""

    def take(self, timeout: float, limit: int = 1) -> list[str]:
        """Wait up to ``timeout`` seconds for queued notification ids; return up to ``limit``."""

    def done(self, notification_ids: Sequence[str]) -> None:
        """Say these taken notifications are handled (sent, failed or skipped)."""

    def drain(self) -> list[str]:
        """Take every id still waiting, for a process that stops and cannot send them."""

    def reclaim(self, idle_seconds: float) -> list[str]:
        """Take over the ids another process took and left unhandled for ``idle_seconds``.

        They stay taken by this process until ``done`` or ``requeue``.
        """

    def requeue(self, notification_ids: Sequence[str]) -> None:
        """Put taken ids back at the end of the queue, for any process to send."""

    def depth(self) -> int:
        """How many notifications wait to be sent."""


class WebhookRepository(Protocol):
    """The agency's endpoints, the outbox of webhook messages, and their deliveries.

    Messages enter the outbox in the step of the change they report (shift,
    caregiver and notification steps); ``dispatch`` turns each into one delivery
    per endpoint that wants it; the delivery workers ``claim`` a due delivery,
    send it, and ``settle`` it.
    """

    def add(self, webhook: Webhook) -> None:
        """Store a new endpoint."""

    def get(self, webhook_id: str) -> Webhook | None:
        """Return the endpoint with this id, or ``None``."""

    def for_organization(self, organization_id: str) -> list[Webhook]:
        """List an organization's endpoints, oldest first."""

    def remove(self, webhook_id: str) -> bool:
        """Delete an endpoint (its pending deliveries are dropped); whether it existed."""

    def deliveries(self, webhook_id: str) -> list[Delivery]:
        """An endpoint's deliveries, newest first, without their payloads; a pending one's
        ``next_attempt_at`` is when it is due (while an attempt holds it, its claim's end)."""

    def dispatch(self, expand: Expand, limit: int = 100) -> int:
        """Turn up to ``limit`` messages of the outbox into deliveries, in one atomic step.

        ``expand`` gets each message with its organization's endpoints as stored
        in that step. Returns how many messages were taken.
        """

    def due(
        self, now: datetime, limit: int = 100, skip: Collection[str] = ()
    ) -> list[tuple[str, str]]:
        """``(webhook id, delivery id)`` of pending deliveries due at ``now``, earliest first,
        of endpoints not in ``skip`` (those whose lane is busy: their backlog must not hide
        the others' deliveries)."""

    def claim(
        self, webhook_id: str, delivery_id: str, now: datetime, until: datetime
    ) -> Delivery | None:
        """Take a due delivery until ``until``, atomically; ``None`` when not due or taken.

        Of any number of processes, one gets it; if its taker dies it is due
        again at ``until``.
        """

    def settle(self, delivery: Delivery, *, disable: bool = False) -> None:
        """Store a delivery after its attempt: due again at ``next_attempt_at`` while pending.

        ``disable``: the endpoint answered ``410 Gone``; it is disabled in the same step.
        """

    def forget_settled(self, webhook_id: str, keep: int) -> int:
        """Forget the settled deliveries among the endpoint's oldest ``FORGET_WINDOW``
        beyond its newest ``keep``, atomically with ``settle``; how many were forgotten.

        A pending one stays until it is settled; ``settle`` never brings back a
        forgotten one (an attempt that outlived its lease settles it late).
        """

    def waiting(self) -> int:
        """How many messages wait in the outbox to be dispatched."""


class Store(Protocol):
    """Everything shiftfill keeps; the one port the use cases write through.

    A ``durable`` store outlives the process: what is queued in its outbox is
    sent by the next process, so a stopping process leaves it there.
    """

    @property
    def durable(self) -> bool: ...

    @property
    def kind(self) -> str:
        """``memory`` or ``redis``."""

    @property
    def caregivers(self) -> CaregiverRepository: ...

    @property
    def organizations(self) -> OrganizationRepository: ...

    @property
    def clients(self) -> ClientRepository: ...

    @property
    def shifts(self) -> ShiftRepository: ...

    @property
    def notifications(self) -> NotificationRepository: ...

    @property
    def events(self) -> EventLog: ...

    @property
    def inbound(self) -> InboundLog: ...

    @property
    def outbox(self) -> Outbox: ...

    @property
    def webhooks(self) -> WebhookRepository: ...

    def outgoing(self, notification_ids: Sequence[str]) -> list[Outgoing]:
        """Each notification with what sending it takes, read together; unknown ids left out."""

    def ping(self) -> None:
        """Raise ``StoreUnavailable`` when the store cannot be reached."""

    def counts(self) -> RecordCounts:
        """Count the caregivers, shifts and notifications stored."""

    def mark_seeded(self, at: datetime) -> datetime:
        """Note that a seed was applied at ``at`` unless one was before; return the first time."""

    def seeded_at(self) -> datetime | None:
        """When a seed was first applied to this store, or ``None``."""

    def close(self) -> None:
        """Release connections; the store is not used after."""


class NotifierError(Exception):
    """The provider did not take the message; ``transient`` says a retry may succeed."""

    def __init__(self, message: str, *, transient: bool = False) -> None:
        super().__init__(message)
        self.transient = transient


class Notifier(Protocol):
    """Where outbound messages go. Each method returns the provider's id for the message.

    ``waits`` says whether a send waits on the network (a provider's API): such sends
    get a thread each; sends that never wait are made by the send path's reader
    itself (adapters/send_workers.py, ``inline``).
    """

    waits: bool

    def send_sms(self, to: str, body: str) -> str:
        """Send one text message; raise ``NotifierError`` when the provider refuses it."""

    def place_call(self, to: str, script: str, goodbye: str, *, language: str) -> str:
        """Start a call that reads ``script``, gathers a key or spoken answer, else says goodbye.

        ``language`` is the locale the call speaks and listens in (``en-US``, ``es-US``).
        """


class Metrics(Protocol):
    """What the use cases count for the operator; an adapter turns it into Prometheus series."""

    def fanout_started(self, role: str, offered: int) -> None:
        """A fanout started for a shift of ``role``, offering it to ``offered`` caregivers."""

    def notifications(self, channel: str, status: str, count: int = 1) -> None:
        """``count`` notifications on ``channel`` reached ``status`` (queued, sent, failed...)."""

    def inbound_handled(self, outcome: str) -> None:
        """An inbound message (not a replay) came to ``outcome``."""

    def shift_filled(self, round: str, seconds: float) -> None:
        """A shift was filled in ``round``, ``seconds`` after its fanout started."""

    def webhook_delivery(self, event: str, status: str) -> None:
        """One attempt to deliver a webhook message of ``event`` came to ``status``."""


class NoMetrics:
    """Counts nothing: the default for use cases run without a metrics adapter."""

    def fanout_started(self, role: str, offered: int) -> None:
        pass

    def notifications(self, channel: str, status: str, count: int = 1) -> None:
        pass

    def inbound_handled(self, outcome: str) -> None:
        pass

    def shift_filled(self, round: str, seconds: float) -> None:
        pass

    def webhook_delivery(self, event: str, status: str) -> None:
        pass
