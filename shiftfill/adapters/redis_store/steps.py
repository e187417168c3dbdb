"""How the Redis store makes one change of state: optimistic steps, checked by Redis.

A step reads what its decision needs, decides in Python, and sends its writes
together with the answers its reads got. ``CHECKED_WRITE`` runs the reads again
inside Redis and applies the writes only if every answer is still the same;
otherwise nothing is written and the step runs again on fresh reads. That is
one round trip for the writes where WATCH, MULTI and EXEC take three, and reads
made before the step (by the same process) may stand in for the step's own on
its first attempt: a stale one fails the check like any changed read.

Records the agency edits, rarely and not on a hot path, use ``transact``
(WATCH/MULTI/EXEC) instead.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Any, Generic, TypeVar

import redis
from redis.client import Pipeline
from redis.commands.core import Script

T = TypeVar("T")
K = TypeVar("K")
V = TypeVar("V")

Command = tuple[str | float, ...]

# Answers this process saw, by the command that read them: the guesses of a
# step's first attempt.
SEEN_ANSWERS = 4096
# A written value longer than this is not kept as a guess (a fanout's offered ids).
GUESS_BYTES = 4096
# Arguments per write command; Lua's unpack stops at about 8,000.
WRITE_CHUNK = 1000

# One step's writes, applied only if every read the decision made still answers
# the same. ARGV: the number of reads, then for each its command (argument count,
# then the arguments) and its answer as the client saw it (a list joined by
# newlines, nothing for a missing value); then the number of writes and each
# write's command. Two writes are this script's own, the bulk writes of a fanout
# or a phone round, which Redis runs itself instead of thirty thousand commands
# packed and parsed by the client: ``queue``, and ``add-all`` (a set's members
# from one JSON array).
# KEYS: one key of the step, for routing; every key shares its hash slot.
# Returns 1 when applied, 0 when a read changed.
CHECKED_WRITE = """
local n = 1
local function command()
  local count = tonumber(ARGV[n])
  local args = {unpack(ARGV, n + 1, n + count)}
  n = n + count + 1
  return args
end
local function answer(reply)
  if type(reply) == 'table' then return table.concat(reply, '\\n') end
  if not reply then return '' end
  return tostring(reply)
end
-- A notification to each caregiver without one on this channel: its queued time
-- in the (shift, channel) hash, which is also the check, its id on the shift's
-- list and in the send queue, and the count.
local function queue(hash, list, outbox, count, shift_id, channel, at, ids)
  local queued = {}
  for _, cid in ipairs(cjson.decode(ids)) do
    if redis.call('HSETNX', hash, cid, at) == 1 then
      local id = shift_id .. '~' .. cid .. '~' .. channel
      redis.call('XADD', outbox, '*', 'id', id)
      queued[#queued + 1] = id
    end
  end
  for i = 1, #queued, 1000 do
    redis.call('RPUSH', list, unpack(queued, i, math.min(i + 999, #queued)))
  end
  if #queued > 0 then redis.call('INCRBY', count, #queued) end
end
local function add_all(key, members)
  local ids = cjson.decode(members)
  for i = 1, #ids, 1000 do
    redis.call('SADD', key, unpack(ids, i, math.min(i + 999, #ids)))
  end
end
n = 2
for _ = 1, tonumber(ARGV[1]) do
  local read = command()
  local seen = ARGV[n]
  n = n + 1
  if answer(redis.call(unpack(read))) ~= seen then return 0 end
end
local writes = tonumber(ARGV[n])
n = n + 1
for _ = 1, writes do
  local write = command()
  if write[1] == 'queue' then queue(unpack(write, 2))
  elseif write[1] == 'add-all' then add_all(unpack(write, 2))
  else redis.call(unpack(write)) end
end
return 1
"""

# How a remembered answer reads back as the reply the command gave.
_REPLY_OF_ANSWER: dict[str, Callable[[bytes], Any]] = {
    "GET": lambda answer: answer or None,
    "HGET": lambda answer: answer or None,
    "ZRANGEBYSCORE": lambda answer: answer.split(b"\n") if answer else [],
}


def answer_of(reply: Any) -> bytes:
    """A reply as ``CHECKED_WRITE`` compares it: bytes, a list joined by newlines."""
    if reply is None:
        return b""
    if isinstance(reply, bytes):
        return reply
    if isinstance(reply, bool):
        return b"1" if reply else b"0"
    if isinstance(reply, int):
        return str(reply).encode()
    if isinstance(reply, list):
        return b"\n".join(map(answer_of, reply))
    raise TypeError(f"no answer form for {type(reply).__name__}")


class Recent(Generic[K, V]):
    """A thread-safe map that keeps the ``size`` entries most recently used."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._items: OrderedDict[K, V] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: K) -> V | None:
        with self._lock:
            value = self._items.get(key)
            if value is not None:
                self._items.move_to_end(key)
            return value

    def put(self, key: K, value: V) -> None:
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            if len(self._items) > self._size:
                self._items.popitem(last=False)


class Step:
    """One attempt of a step: the reads its decision made, and the writes that follow."""

    def __init__(self, client: redis.Redis, seen: Recent[Command, bytes], guess: bool) -> None:
        self._r = client
        self._seen = seen
        self._guess = guess
        self.guessed = False
        self._reads: list[tuple[Command, bytes]] = []
        self._writes: list[Command] = []

    def read(self, *commands: Command) -> list[Any]:
        """Run ``commands`` now, in one round trip; the writes apply only while they answer so."""
        if len(commands) == 1:
            replies = [self._r.execute_command(*commands[0])]
        else:
            with self._r.pipeline(transaction=False) as pipe:
                for command in commands:
                    pipe.execute_command(*command)
                replies = pipe.execute()
        for command, reply in zip(commands, replies, strict=True):
            answer = answer_of(reply)
            self._reads.append((command, answer))
            self._seen.put(command, answer)
        return replies

    def recall(self, *commands: Command, unseen: bytes | None = None) -> list[Any]:
        """As ``read``, but on a first attempt take the answers this process saw last.

        ``unseen`` stands for an answer never seen; without it, an unseen one
        makes this a ``read``. Only commands of ``_REPLY_OF_ANSWER``.
        """
        if self._guess:
            seen = [self._seen.get(command) for command in commands]
            answers = [a for a in (unseen if a is None else a for a in seen) if a is not None]
            if len(answers) == len(commands):
                self.guessed = True
                self._reads += zip(commands, answers, strict=True)
                return [
                    _REPLY_OF_ANSWER[str(c[0])](a) for c, a in zip(commands, answers, strict=True)
                ]
        return self.read(*commands)

    def write(self, *command: str | float) -> None:
        self._writes.append(command)

    def write_many(self, command: str, key: str, values: Sequence[str]) -> None:
        """One write of ``command key value...``, in chunks Lua can unpack."""
        for start in range(0, len(values), WRITE_CHUNK):
            self.write(command, key, *values[start : start + WRITE_CHUNK])

    @property
    def checked(self) -> bool:
        """Whether the step must go through ``CHECKED_WRITE``.

        A step that writes nothing and guessed nothing needs no check: its reads
        were true when made.
        """
        return bool(self._writes) or self.guessed

    def arguments(self) -> list[Any]:
        """``CHECKED_WRITE``'s arguments: the reads with their answers, then the writes."""
        args: list[Any] = [len(self._reads)]
        for command, answer in self._reads:
            args += [len(command), *command, answer]
        args.append(len(self._writes))
        for command in self._writes:
            args += [len(command), *command]
        return args

    def applied(self) -> None:
        """Remember the values the step wrote, as guesses for the next step on them."""
        for command in self._writes:
            if command[0] == "SET" and len(str(command[2])) <= GUESS_BYTES:
                self._seen.put(("GET", command[1]), str(command[2]).encode())

    def apply(self, script: Any, route: str) -> bool:
        """Send the writes with the reads' answers; ``False`` when a read changed meanwhile."""
        if not self.checked:
            return True
        if not script(keys=[route], args=self.arguments()):
            return False
        self.applied()
        return True


class Steps:
    """Runs optimistic steps on ``CHECKED_WRITE``, with this process's last answers as guesses."""

    def __init__(self, client: redis.Redis) -> None:
        self._r = client
        self._script = client.register_script(CHECKED_WRITE)
        self._seen: Recent[Command, bytes] = Recent(SEEN_ANSWERS)

    def remember(self, command: Command, reply: Any) -> None:
        """Note what a read outside any step answered, as a guess for a later step."""
        self._seen.put(command, answer_of(reply))

    def run(self, route: str, attempt: Callable[[Step], T]) -> T:
        """Run ``attempt`` until its writes apply; return what the applied attempt returned.

        ``attempt`` reads through the step, queues its writes on it and returns its
        result; what it raises writes nothing. A first attempt that guessed is
        run again on fresh reads when it fails or raises.
        """
        guess = True
        while True:
            step = Step(self._r, self._seen, guess)
            try:
                result = attempt(step)
            except Exception:
                if not step.guessed:
                    raise
                guess = False
                continue
            if step.apply(self._script, route):
                return result
            guess = False

    def run_many(self, jobs: Sequence[tuple[str, Callable[[Step], T]]]) -> list[T]:
        """Run each ``(route, attempt)`` as ``run`` would, their first attempts in one round trip.

        The first attempts decide on guesses where this process has them, and
        their checked writes go to Redis in one pipeline. Each is checked on its
        own; one whose reads changed, or whose guessed attempt raised, runs again
        alone on fresh reads, after the others were written. An attempt that
        raises on fresh reads raises here: before anything is written when it is
        a first attempt, after the others' writes when it is run again.
        """
        results: list[T | None] = [None] * len(jobs)
        again: list[int] = []
        sent: list[tuple[int, Step]] = []
        for index, (_, attempt) in enumerate(jobs):
            step = Step(self._r, self._seen, guess=True)
            try:
                results[index] = attempt(step)
            except Exception:
                if not step.guessed:
                    raise
                again.append(index)
                continue
            if step.checked:
                sent.append((index, step))
        if sent:
            calls = [([jobs[index][0]], step.arguments()) for index, step in sent]
            replies = run_scripts(self._r, self._script, calls)
            for (index, step), applied in zip(sent, replies, strict=True):
                if applied:
                    step.applied()
                else:
                    again.append(index)
        for index in sorted(again):
            results[index] = self.run(*jobs[index])
        return results  # type: ignore[return-value]


def run_scripts(
    client: redis.Redis, script: Script, calls: Sequence[tuple[Sequence[str], Sequence[Any]]]
) -> list[Any]:
    """Run ``script`` once per ``(keys, args)``, all in one round trip; its replies in order.

    ``EVALSHA`` straight away, where a pipeline given the ``Script`` would first
    ask whether Redis has it (a round trip each time); it is loaded only when
    Redis has lost it (a restart), and those calls run again.
    """
    replies: list[Any] = [None] * len(calls)
    missing = list(range(len(calls)))
    for _ in range(2):
        with client.pipeline(transaction=False) as pipe:
            for index in missing:
                keys, args = calls[index]
                pipe.evalsha(script.sha, len(keys), *keys, *args)
            answers = pipe.execute(raise_on_error=False)
        for index, answer in zip(missing, answers, strict=True):
            replies[index] = answer
        missing = [i for i in missing if isinstance(replies[i], redis.exceptions.NoScriptError)]
        if not missing:
            break
        client.script_load(script.script)
    for reply in replies:
        if isinstance(reply, Exception):
            raise reply
    return replies


def transact(client: redis.Redis, watch: Sequence[str], step: Callable[[Pipeline], T]) -> T:
    """Run ``step`` as one optimistic transaction on ``watch``, again until it commits.

    ``step`` reads through the pipeline (at once, the keys being watched), calls
    ``pipe.multi()`` and queues its writes; exceptions it raises write nothing.
    """
    with client.pipeline(transaction=True) as pipe:
        while True:
            try:
                pipe.watch(*watch)
                result = step(pipe)
                pipe.execute()
                return result
            except redis.WatchError:
                continue
