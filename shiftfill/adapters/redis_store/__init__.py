"""The Redis store: every record in Redis, shared by every shiftfill process and host.

Each change of state is one optimistic step: read the records the decision
needs, run the same pure domain decision as the memory store, then write the
record and everything that follows from it (events, notifications, the send
queue, indexes) only if what was read is still so, else run again on the new
state. Shifts and notifications, the records on the hot paths, use one script
for that (``CHECKED_WRITE``: the reads are checked and the writes applied in one
round trip). Caregivers and organizations, which the agency edits, use
WATCH/MULTI/EXEC (``transact``). A crash between two steps leaves Redis at one of
them, never between.

Every key is ``<prefix>{<tag>}:...``: under ``SHIFTFILL_REDIS_PREFIX``, and in
one hash slot, so that a step may touch any of its keys on Redis Cluster too.

The send queue is a stream with one consumer group. A process takes an entry,
sends it and acknowledges it; an entry left unacknowledged by a process that
died is taken over after the visibility timeout (see ``reclaim``).
"""
