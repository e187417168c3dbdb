"""The names of every key the Redis store writes, in one table.

Every key is ``<prefix>{<tag>}:<name>[:<part>...]``: under ``SHIFTFILL_REDIS_PREFIX``,
and in one hash slot (the ``{<tag>}``), so that a step may touch any of its keys
on Redis Cluster too. The names are part of the stored data: a process of another
version reads the same keys, so a name changes only with a migration.
"""

from __future__ import annotations


class Keys:
    """Names every key shiftfill writes: ``<prefix>{<tag>}:<part>:<part>...``.

    =====================  ==========  ==============================================
    key                    type        holds
    =====================  ==========  ==============================================
    caregivers             list        caregiver ids in the order they joined
    caregiver:<id>         string      a caregiver as JSON
    caregiver-phones       hash        phone to caregiver id
    caregiver-events:<id>  list        a caregiver's own trail, JSON events
    contactable:<role>     sorted set  reachable caregivers of a role, by ``contactable-seq``
    contactable-seq        string      the last number given in the role index
    reach:<role>           hash        caregiver id to what matching asks of them (JSON:
                                       place, range, credentials), for those of
                                       ``contactable:<role>``
    reach-version:<role>   string      bumped by every change of the two above
    reach-changes:<role>   sorted set  caregiver ids by the version of their last change
                                       there, so a process reads only what changed since
    organizations          list        organization ids in the order they were added
    organization:<id>      string      an organization as JSON
    shifts                 list        shift ids in the order they were created
    shift:<id>             string      a shift as JSON (its offered ids apart)
    offered:<shift>        string      a fanout's offered ids, JSON, written once
    offered-set:<shift>    set         the same ids (of every wave), for membership tests
    wave:<n>:<shift>       string      the ids a fanout's wave ``n`` (from 2) offered, JSON
    waves                  sorted set  shift ids by the due time of their next wave
    clients                list        client ids in the order they were added
    client:<id>            string      a client as JSON
    client-shifts:<id>     string      a count of the shifts added naming the client, which
                                       a move of the client watches
    offer-codes            set         the offer codes of open fanouts
    phone-rounds           sorted set  shift ids by the due time of their phone round
    open-fanouts:<role>    set         fanned-out open shifts of a role
    closed-fanouts:<role>  list        the latest closed fanned-out shifts of a role
    assigned:<caregiver>   sorted set  shifts assigned to a caregiver, by end time
    events:<shift>         list        a shift's trail, JSON events
    notification:<id>      string      a notification changed since it was queued, JSON
    queued:<shift>:<chan>  hash        caregiver id to queued time, per shift and channel
    notifications:<shift>  list        a shift's notification ids, in queued order
    notification-count     string      how many notifications were queued
    provider-ids           hash        the provider's message or call id to notification id
    outbox                 stream      notification ids to send (consumer group ``senders``)
    inbound:<message>      string      a provider message id's outcome, expiring
    seeded-at              string      when a seed was first applied
    unfilled-checks        sorted set  shift ids by the due time of their unfilled alarm
    webhooks               hash        webhook id to an endpoint as JSON
    webhook-outbox         list        webhook messages not yet made into deliveries, JSON
    webhook-due            sorted set  ``<webhook> <message>`` of pending deliveries, by due time
    webhook-deliveries:<w> list        an endpoint's delivery ids, newest first
    webhook-delivery:<w>:<m>  string   one delivery as JSON: its payload around its
                                       shift's digest while pending, none once settled
    webhook-body:<digest>  string      a shift's part of payloads, by its SHA-256, kept
                                       while a pending delivery refers to it
    webhook-body-refs      hash        digest to how many pending deliveries refer to it
    =====================  ==========  ==============================================
    """

    def __init__(self, prefix: str) -> None:
        tag = prefix.strip(":") or "shiftfill"
        self._base = f"{prefix}{{{tag}}}:"
        self.caregivers = self("caregivers")
        self.caregiver_phones = self("caregiver-phones")
        self.contactable_seq = self("contactable-seq")
        self.organizations = self("organizations")
        self.shifts = self("shifts")
        self.offer_codes = self("offer-codes")
        self.phone_rounds = self("phone-rounds")
        self.waves = self("waves")
        self.clients = self("clients")
        self.notification_count = self("notification-count")
        self.provider_ids = self("provider-ids")
        self.outbox = self("outbox")
        self.seeded_at = self("seeded-at")
        self.unfilled_checks = self("unfilled-checks")
        self.webhooks = self("webhooks")
        self.webhook_outbox = self("webhook-outbox")
        self.webhook_due = self("webhook-due")
        self.webhook_body_refs = self("webhook-body-refs")

    def __call__(self, *parts: str) -> str:
        return self._base + ":".join(parts)

    def caregiver(self, caregiver_id: str) -> str:
        return self("caregiver", caregiver_id)

    def caregiver_events(self, caregiver_id: str) -> str:
        return self("caregiver-events", caregiver_id)

    def contactable(self, role: str) -> str:
        return self("contactable", role)

    def reach(self, role: str) -> str:
        return self("reach", role)

    def reach_version(self, role: str) -> str:
        return self("reach-version", role)

    def reach_changes(self, role: str) -> str:
        return self("reach-changes", role)

    def organization(self, organization_id: str) -> str:
        return self("organization", organization_id)

    def shift(self, shift_id: str) -> str:
        return self("shift", shift_id)

    def offered(self, shift_id: str) -> str:
        return self("offered", shift_id)

    def wave(self, number: int, shift_id: str) -> str:
        return self("wave", str(number), shift_id)

    def client(self, client_id: str) -> str:
        return self("client", client_id)

    def client_shifts(self, client_id: str) -> str:
        return self("client-shifts", client_id)

    def offered_set(self, shift_id: str) -> str:
        return self("offered-set", shift_id)

    def open_fanouts(self, role: str) -> str:
        return self("open-fanouts", role)

    def closed_fanouts(self, role: str) -> str:
        return self("closed-fanouts", role)

    def assigned(self, caregiver_id: str) -> str:
        return self("assigned", caregiver_id)

    def events(self, shift_id: str) -> str:
        return self("events", shift_id)

    def notification(self, notification_id: str) -> str:
        return self("notification", notification_id)

    def queued(self, shift_id: str, channel: str) -> str:
        return self("queued", shift_id, channel)

    def notifications(self, shift_id: str) -> str:
        return self("notifications", shift_id)

    def inbound(self, message_id: str) -> str:
        return self("inbound", message_id)

    def webhook_deliveries(self, webhook_id: str) -> str:
        return self("webhook-deliveries", webhook_id)

    def webhook_delivery(self, webhook_id: str, delivery_id: str) -> str:
        return self("webhook-delivery", webhook_id, delivery_id)

    def webhook_body(self, digest: str) -> str:
        return self("webhook-body", digest)
