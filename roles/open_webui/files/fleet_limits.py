"""Admission and fair share for generations, the fleet's rules in front of Open WebUI (fleet_gate
wraps its app with `Limits`).

- A host admits at most FLEET_GATE_CAPACITY generations at once; the next one is answered at once
  with 503, Retry-After and a JSON `detail` the chat page shows, before Open WebUI's own path
  (authentication, model lists, chat saves) has cost anything.
- A person has at most `concurrent` generations at once and `per_minute` requests a minute across
  the whole fleet (FLEET_GATE_LIMITS: the default and a limit per group, the most generous of a
  person's groups applying); over it, 429 with Retry-After and a `detail` naming the limit. The
  person is the verified one: a session token checked with the fleet's shared secret, or an API
  key resolved to its owner; a request with neither goes on to Open WebUI, which refuses it.
- The counts are in the shared Redis (REDIS_URL; in one process when there is none, for a one-host
  install): a slot is a lease that its process renews while the generation runs, so a slot held
  by a host or worker that died frees within FLEET_GATE_LEASE_SECONDS; a client that goes away
  frees its slot at once (Open WebUI stops the stream, the gate releases). A chat from the page
  answers over socket.io in a background task: its slot goes with the task and frees at its end.
  A generation costs Redis three round trips: the host's slot, the person's slot with their
  minute's request (both or neither), and giving both back.
- Redis not answering admits (the fleet keeps serving; each refusal is a safety, not a need).
"""

from __future__ import annotations

import asyncio
import contextvars
import hashlib
import json
import logging
import os
import socket
import time
import uuid
from collections.abc import Awaitable, Callable, Coroutine, MutableMapping
from dataclasses import dataclass, field
from typing import Any, Protocol

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
App = Callable[[Scope, Receive, Send], Awaitable[None]]

# The requests that start a generation: the page's and the API's chat, and Open WebUI's proxies
# to the model servers.
GENERATION_PATHS = frozenset({
    "/api/chat/completions", "/api/v1/chat/completions", "/ollama/api/chat",
    "/ollama/api/generate", "/openai/chat/completions",
})  # fmt: skip
BUSY = "This service is busy: try again in {seconds} s."
TOO_MANY_AT_ONCE = (
    "You already have {limit} answers being written, the most at once for your account: "
    "try again in {seconds} s."
)
TOO_MANY_A_MINUTE = (
    "You have sent {limit} requests this minute, the most for your account: "
    "try again in {seconds} s."
)
log = logging.getLogger("fleet_limits")


class LimitError(ValueError):
    """A limit setting that cannot be used, named."""


@dataclass(frozen=True)
class Limit:
    concurrent: int
    per_minute: int


@dataclass(frozen=True)
class Policy:
    capacity: int  # generations admitted at once on this host
    default: Limit  # per person
    groups: dict[str, Limit] = field(default_factory=dict)  # per group name
    retry_after: int = 5  # what a busy host or a person at their limit is told to wait
    lease_seconds: int = 30  # a dead holder's slot frees within this

    def limit_for(self, groups: list[str]) -> Limit:
        """The most generous of the person's groups' limits, or the default."""
        chosen = [self.groups[g] for g in groups if g in self.groups]
        if not chosen:
            return self.default
        return Limit(
            max(limit.concurrent for limit in chosen), max(limit.per_minute for limit in chosen)
        )


def whole(name: str, value: object) -> int:
    """A whole number of 1 or more, or LimitError naming the setting."""
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise LimitError(f"{name} must be a whole number of 1 or more, got {value!r}")
    text = str(value).strip()
    if not text.isdigit() or int(text) < 1:
        raise LimitError(f"{name} must be a whole number of 1 or more, got {value!r}")
    return int(text)


def limit_of(name: str, value: object) -> Limit:
    if not isinstance(value, dict):
        raise LimitError(f"{name} must be a mapping with concurrent and per_minute")
    return Limit(
        whole(f"{name}.concurrent", value.get("concurrent")),
        whole(f"{name}.per_minute", value.get("per_minute")),
    )


def policy_from(env: MutableMapping[str, str] | dict[str, str]) -> Policy | None:
    """The policy the environment sets (None when FLEET_GATE_CAPACITY is unset: no limits)."""
    if not env.get("FLEET_GATE_CAPACITY", "").strip():
        return None
    try:
        limits = json.loads(env.get("FLEET_GATE_LIMITS") or "{}")
    except ValueError:
        raise LimitError("FLEET_GATE_LIMITS must be JSON") from None
    if not isinstance(limits, dict):
        raise LimitError("FLEET_GATE_LIMITS must be a JSON object")
    groups = limits.get("groups") or {}
    if not isinstance(groups, dict):
        raise LimitError("FLEET_GATE_LIMITS.groups must be a mapping of group names to limits")
    return Policy(
        capacity=whole("FLEET_GATE_CAPACITY", env["FLEET_GATE_CAPACITY"]),
        default=limit_of("FLEET_GATE_LIMITS", limits),
        groups={str(k): limit_of(f"FLEET_GATE_LIMITS.groups.{k}", v) for k, v in groups.items()},
        retry_after=whole("FLEET_GATE_RETRY_AFTER", env.get("FLEET_GATE_RETRY_AFTER") or 5),
        lease_seconds=whole("FLEET_GATE_LEASE_SECONDS", env.get("FLEET_GATE_LEASE_SECONDS") or 30),
    )


class Counts(Protocol):
    """Where the slots and the minute's requests are counted."""

    async def take(self, key: str, limit: int, holder: str, lease_seconds: int) -> bool:
        """One of `limit` slots under key for holder, or False when all are held."""
        ...

    async def take_person(
        self, slots: str, minute: str, limit: Limit, holder: str, lease_seconds: int
    ) -> int:
        """A person's slot (under `slots`) and one of their requests this minute (counted under
        `minute`), both or neither: 0 when taken, -1 when the slots are all held, else the
        seconds until the next minute."""
        ...

    async def renew(self, held: list[tuple[str, str]], lease_seconds: int) -> None: ...

    async def give_back(self, slots: list[tuple[str, str]]) -> None: ...


# Redis: a slot is a member of a sorted set scored by when its lease ends; the minute's requests
# a counter per minute. The server's clock decides, so the hosts' clocks do not matter. Each
# admission is one script (one round trip, nothing to undo): the host's slot, then the person's.
TAKE = """
local now = redis.call('TIME')
local t = tonumber(now[1]) + tonumber(now[2]) / 1e6
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', t)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[1]) then return 0 end
redis.call('ZADD', KEYS[1], t + tonumber(ARGV[3]), ARGV[2])
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[3]) * 2)
return 1
"""
TAKE_PERSON = """
local now = redis.call('TIME')
local t = tonumber(now[1]) + tonumber(now[2]) / 1e6
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', t)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[1]) then return -1 end
local second = tonumber(now[1])
local minute = second - second % 60
local requests = KEYS[2] .. ':' .. minute
if tonumber(redis.call('GET', requests) or '0') >= tonumber(ARGV[2]) then
  return minute + 60 - second
end
redis.call('INCR', requests)
redis.call('EXPIRE', requests, 120)
redis.call('ZADD', KEYS[1], t + tonumber(ARGV[4]), ARGV[3])
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[4]) * 2)
return 0
"""
RENEW = """
local now = redis.call('TIME')
local t = tonumber(now[1]) + tonumber(now[2]) / 1e6
redis.call('ZADD', KEYS[1], 'XX', t + tonumber(ARGV[2]), ARGV[1])
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[2]) * 2)
return 1
"""


class RedisCounts:
    def __init__(self, url: str) -> None:
        from redis.asyncio import Redis

        self.redis = Redis.from_url(url, socket_timeout=1.0, socket_connect_timeout=1.0)
        self.take_script = self.redis.register_script(TAKE)
        self.person_script = self.redis.register_script(TAKE_PERSON)
        self.renew_script = self.redis.register_script(RENEW)

    async def take(self, key: str, limit: int, holder: str, lease_seconds: int) -> bool:
        return bool(await self.take_script(keys=[key], args=[limit, holder, lease_seconds]))

    async def take_person(
        self, slots: str, minute: str, limit: Limit, holder: str, lease_seconds: int
    ) -> int:
        args: list[int | str] = [limit.concurrent, limit.per_minute, holder, lease_seconds]
        return int(await self.person_script(keys=[slots, minute], args=args))

    async def renew(self, held: list[tuple[str, str]], lease_seconds: int) -> None:
        pipe = self.redis.pipeline(transaction=False)
        for key, holder in held:
            await self.renew_script(keys=[key], args=[holder, lease_seconds], client=pipe)
        await pipe.execute()

    async def give_back(self, slots: list[tuple[str, str]]) -> None:
        pipe = self.redis.pipeline(transaction=False)
        for key, holder in slots:
            pipe.zrem(key, holder)
        await pipe.execute()


class LocalCounts:
    """The same counts in one process: a one-host install without Redis (one worker)."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock
        self.slots: dict[str, dict[str, float]] = {}
        self.minutes: dict[str, tuple[int, int]] = {}

    async def take(self, key: str, limit: int, holder: str, lease_seconds: int) -> bool:
        now = self.clock()
        held = {h: end for h, end in self.slots.get(key, {}).items() if end > now}
        self.slots[key] = held
        if len(held) >= limit:
            return False
        held[holder] = now + lease_seconds
        return True

    async def renew(self, held: list[tuple[str, str]], lease_seconds: int) -> None:
        for key, holder in held:
            if holder in self.slots.get(key, {}):
                self.slots[key][holder] = self.clock() + lease_seconds

    async def take_person(
        self, slots: str, minute: str, limit: Limit, holder: str, lease_seconds: int
    ) -> int:
        now = self.clock()
        if sum(end > now for end in self.slots.get(slots, {}).values()) >= limit.concurrent:
            return -1
        second = int(now)
        this_minute = second - second % 60
        seen_minute, count = self.minutes.get(minute, (this_minute, 0))
        count = count if seen_minute == this_minute else 0
        if count >= limit.per_minute:
            return this_minute + 60 - second
        self.minutes[minute] = (this_minute, count + 1)
        await self.take(slots, limit.concurrent, holder, lease_seconds)
        return 0

    async def give_back(self, slots: list[tuple[str, str]]) -> None:
        for key, holder in slots:
            self.slots.get(key, {}).pop(holder, None)


@dataclass(frozen=True)
class Person:
    id: str
    groups: tuple[str, ...]


Identify = Callable[[Scope], Awaitable[Person | None]]


@dataclass
class Lease:
    """The slots one generation holds; `moved` once a background task holds them instead."""

    slots: list[tuple[str, str]]
    moved: bool = False


CURRENT: contextvars.ContextVar[Lease | None] = contextvars.ContextVar("fleet_lease", default=None)


class Limits:
    """Wraps an ASGI app: admits a generation when the host has a slot and the person is within
    their limits, and holds the slots until the answer ends."""

    def __init__(
        self, app: App, policy: Policy, counts: Counts, identify: Identify, prefix: str, host: str
    ) -> None:
        self.app = app
        self.policy = policy
        self.counts = counts
        self.identify = identify
        self.prefix = prefix
        self.host_key = f"{prefix}:fleet:host:{host}:generations"
        self.held: dict[str, Lease] = {}
        self.renewing: asyncio.Task[None] | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not (
            scope["type"] == "http"
            and scope.get("method") == "POST"
            and scope.get("path") in GENERATION_PATHS
        ):
            await self.app(scope, receive, send)
            return
        lease = await self.admit(scope, send)
        if lease is None:
            return
        token = CURRENT.set(lease)
        try:
            await self.app(scope, receive, send)
        finally:
            CURRENT.reset(token)
            if not lease.moved:
                await self.release(lease)

    async def admit(self, scope: Scope, send: Send) -> Lease | None:
        """The generation's lease, or None once the refusal is sent. The host's slot first: a
        busy host refuses before anything else is looked up."""
        holder = uuid.uuid4().hex
        lease = Lease([])
        policy, wait = self.policy, self.policy.retry_after
        try:
            if not await self.counts.take(
                self.host_key, policy.capacity, holder, policy.lease_seconds
            ):
                await refuse(send, 503, BUSY.format(seconds=wait), wait)
                return None
            lease.slots.append((self.host_key, holder))
            person = await self.identify(scope)
            if person is None:  # no verified person: Open WebUI refuses the request itself
                return self.hold(lease)
            limit = policy.limit_for(list(person.groups))
            person_key = f"{self.prefix}:fleet:person:{person.id}"
            slots = f"{person_key}:generations"
            taken = await self.counts.take_person(
                slots, f"{person_key}:minute", limit, holder, policy.lease_seconds
            )
            if taken == 0:
                lease.slots.append((slots, holder))
                return self.hold(lease)
            if taken < 0:
                detail = TOO_MANY_AT_ONCE.format(limit=limit.concurrent, seconds=wait)
            else:
                wait = taken
                detail = TOO_MANY_A_MINUTE.format(limit=limit.per_minute, seconds=wait)
            await self.release(lease)
            await refuse(send, 429, detail, wait)
            return None
        except Exception as error:
            if not counting_failed(error):
                await self.release(lease)
                raise
            # Redis not answering: admitted (a slot taken stays until its lease ends).
            log.warning("limits not counted (%s): admitted", error)
            return Lease([])

    def hold(self, lease: Lease) -> Lease:
        for _, holder in lease.slots[:1]:
            self.held[holder] = lease
        if self.renewing is None or self.renewing.done():
            self.renewing = asyncio.get_running_loop().create_task(self.renew_forever())
        return lease

    async def release(self, lease: Lease) -> None:
        for _, holder in lease.slots[:1]:
            self.held.pop(holder, None)
        if not lease.slots:
            return
        try:
            await self.counts.give_back(lease.slots)
        except Exception as error:  # the leases end by themselves
            log.warning("slots not given back (%s)", error)

    async def renew_forever(self) -> None:
        """Every third of a lease, the leases this process holds last another lease."""
        while self.held:
            await asyncio.sleep(self.policy.lease_seconds / 3)
            slots = [slot for lease in list(self.held.values()) for slot in lease.slots]
            try:
                await self.counts.renew(slots, self.policy.lease_seconds)
            except Exception as error:
                log.warning("leases not renewed (%s)", error)

    def background(
        self, create: Callable[..., Awaitable[Any]]
    ) -> Callable[..., Coroutine[Any, Any, Any]]:
        """Open WebUI's create_task, changed so that a chat answered in the background (the
        page's path) holds the request's slots until it ends."""

        async def create_task(redis: Any, coroutine: Any, *args: Any, **kwargs: Any) -> Any:
            lease = CURRENT.get()
            if lease is None or lease.moved:
                return await create(redis, coroutine, *args, **kwargs)
            lease.moved = True

            async def holding() -> Any:
                try:
                    return await coroutine
                finally:
                    await self.release(lease)

            return await create(redis, holding(), *args, **kwargs)

        return create_task


def counting_failed(error: BaseException) -> bool:
    """Redis (or the connection to it) failed, not the gate."""
    return isinstance(error, OSError | TimeoutError) or type(error).__module__.startswith("redis")


async def refuse(send: Send, status: int, detail: str, retry_after: int) -> None:
    body = json.dumps({"detail": detail}).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"retry-after", str(retry_after).encode()),
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def credential(scope: Scope) -> str:
    """The session token or API key a request carries (as Open WebUI reads them)."""
    headers: dict[bytes, bytes] = dict(scope.get("headers", []))
    auth = headers.get(b"authorization", b"").decode("latin-1")
    if auth.lower().startswith("bearer "):
        return auth[7:].strip()
    if b"x-api-key" in headers:
        return headers[b"x-api-key"].decode("latin-1").strip()
    for part in headers.get(b"cookie", b"").decode("latin-1").split(";"):
        name, _, value = part.strip().partition("=")
        if name == "token":
            return value
    return ""


class OpenWebUIPeople:
    """Who a request is, from Open WebUI's own checks: the session token's signature (the shared
    secret) and expiry, or the API key's owner; their groups. Both kept a minute per process, so
    that counting a person costs the database once a minute, not on every request."""

    def __init__(self, ttl: float = 60.0) -> None:
        self.ttl = ttl
        self.owners: dict[str, tuple[float, str | None]] = {}
        self.groups: dict[str, tuple[float, tuple[str, ...]]] = {}

    async def __call__(self, scope: Scope) -> Person | None:
        from open_webui.utils.auth import decode_token

        token = credential(scope)
        if not token:
            return None
        if token.startswith("sk-"):
            user_id = await self.owner(token)
        else:
            decoded = decode_token(token)
            user_id = str(decoded["id"]) if decoded and "id" in decoded else None
        if user_id is None:
            return None
        return Person(user_id, await self.groups_of(user_id))

    async def owner(self, key: str) -> str | None:
        from open_webui.models.users import Users

        digest = hashlib.sha256(key.encode()).hexdigest()
        now = time.monotonic()
        cached = self.owners.get(digest)
        if cached and cached[0] > now:
            return cached[1]
        user = await Users.get_user_by_api_key(key)
        owner = user.id if user is not None else None
        self.owners[digest] = (now + self.ttl, owner)
        return owner

    async def groups_of(self, user_id: str) -> tuple[str, ...]:
        from open_webui.models.groups import Groups

        now = time.monotonic()
        cached = self.groups.get(user_id)
        if cached and cached[0] > now:
            return cached[1]
        names = tuple(sorted(g.name for g in await Groups.get_groups_by_member_id(user_id)))
        self.groups[user_id] = (now + self.ttl, names)
        return names


def install(app: App) -> App:
    """Open WebUI's app with the fleet's limits, when FLEET_GATE_CAPACITY sets them."""
    policy = policy_from(os.environ)
    if policy is None:
        return app
    import open_webui.main

    url = os.environ.get("REDIS_URL", "")
    counts: Counts = RedisCounts(url) if url else LocalCounts()
    prefix = os.environ.get("REDIS_KEY_PREFIX", "open-webui")
    limits = Limits(app, policy, counts, OpenWebUIPeople(), prefix, socket.gethostname())
    open_webui.main.create_task = limits.background(open_webui.main.create_task)
    return limits
