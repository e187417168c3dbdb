"""Clients and organizations in memory: the records a shift step reads beside the shift.

Clients are a dict behind the shifts' lock.

The lock is the one every shift step holds, so a change of a client (an
exclusion) and a claim that reads the client are one after the other, never
interleaved: a claim decided after the exclusion was stored sees it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Sequence

from shiftfill.domain import rules
from shiftfill.domain.model import Client, Organization, Shift
from shiftfill.services.ports import ClientHeld, DuplicateKey


class MemoryClients:
    """Clients by id, in the order they were added."""

    def __init__(self, lock: threading.Lock) -> None:
        self._lock = lock
        self._by_id: dict[str, Client] = {}
        # The shifts naming a client, read under the same lock: open ones hold it in place.
        self._naming: Callable[[str], Iterable[Shift]] = lambda client_id: ()

    def held_by(self, naming: Callable[[str], Iterable[Shift]]) -> None:
        """Judge a client's move against the shifts ``naming`` gives for it, under the lock."""
        self._naming = naming

    def add(self, client: Client) -> None:
        with self._lock:
            if client.id in self._by_id:
                raise DuplicateKey("id", client.id)
            self._by_id[client.id] = client

    def add_absent(self, clients: Sequence[Client]) -> list[Client]:
        with self._lock:
            added = [c for c in clients if c.id not in self._by_id]
            self._by_id.update((c.id, c) for c in added)
            return added

    def get(self, client_id: str) -> Client | None:
        return self._by_id.get(client_id)

    def all(self, organization_id: str | None = None) -> list[Client]:
        with self._lock:
            values = list(self._by_id.values())
        if organization_id is None:
            return values
        return [c for c in values if c.organization_id == organization_id]

    def update(self, client_id: str, change: Callable[[Client], Client]) -> Client:
        with self._lock:
            current = self._by_id[client_id]
            changed = change(current)
            if changed.organization_id != current.organization_id:
                held = rules.shifts_holding(changed, self._naming(client_id))
                if held:
                    raise ClientHeld(client_id, current.organization_id, held)
            self._by_id[client_id] = changed
            return changed

    def __len__(self) -> int:
        return len(self._by_id)


class MemoryOrganizations:
    """Organizations by id, in the order they were added."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_id: dict[str, Organization] = {}

    def add(self, organization: Organization) -> None:
        with self._lock:
            if organization.id in self._by_id:
                raise DuplicateKey("id", organization.id)
            self._by_id[organization.id] = organization

    def add_absent(self, organizations: Sequence[Organization]) -> list[Organization]:
        with self._lock:
            added = []
            for organization in organizations:
                if organization.id not in self._by_id:
                    self._by_id[organization.id] = organization
                    added.append(organization)
            return added

    def get(self, organization_id: str) -> Organization | None:
        return self._by_id.get(organization_id)

    def all(self) -> list[Organization]:
        with self._lock:
            return list(self._by_id.values())

    def update(
        self,
        organization_id: str,
        change: Callable[[Organization], Organization],
        *,
        absent: Organization | None = None,
    ) -> Organization:
        with self._lock:
            current = self._by_id.get(organization_id, absent)
            if current is None:
                raise KeyError(organization_id)
            changed = self._by_id[organization_id] = change(current)
            return changed
