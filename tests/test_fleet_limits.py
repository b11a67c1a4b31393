"""The gate's admission and fair share (roles/open_webui/files/fleet_limits.py) against a real
Redis (Debian's redis-server on loopback) and in one process: a busy host refuses at once with
503, Retry-After and a JSON detail; a person is held to their generations at once across hosts
and to their requests a minute, by their group; a slot frees when its answer ends, when its client
goes away, when its background chat ends, and when its holder dies (its lease ends); bad limits
are refused by name. Open WebUI's own identity checks (session token, API key) are exercised in
the open_webui role's scenario."""

from __future__ import annotations

import asyncio
import importlib.util
import json
import shutil
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from lab.ec2 import free_port

FILES = Path(__file__).resolve().parents[1] / "roles/open_webui/files"


def load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("fleet_limits", FILES / "fleet_limits.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["fleet_limits"] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


limits = load()
CHAT = "/api/chat/completions"


@pytest.fixture(scope="module")
def redis_url() -> Iterator[str]:
    server = shutil.which("redis-server")
    if server is None:
        pytest.fail("redis-server is missing: `make setup` installs it (APT_PACKAGES)")
    port = free_port()
    proc = subprocess.Popen(
        [server, "--bind", "127.0.0.1", "--port", str(port), "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
    )
    url = f"redis://127.0.0.1:{port}/0"
    try:
        for _ in range(100):
            try:
                with __import__("socket").create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                time.sleep(0.05)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.fixture(params=["redis", "local"])
def counts(request: pytest.FixtureRequest, redis_url: str) -> Any:
    if request.param == "local":
        return limits.LocalCounts()
    counted = limits.RedisCounts(redis_url)
    asyncio.run(flush(counted))
    return counted


async def flush(counted: Any) -> None:
    await counted.redis.flushdb()
    await counted.redis.aclose()


class Answer:
    """An app that streams an answer until `finish` is set (a generation in flight)."""

    def __init__(self) -> None:
        self.started = 0

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        self.started += 1
        finish: asyncio.Event = scope["finish"]
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await finish.wait()
        await send({"type": "http.response.body", "body": b"answer"})


def people(scope: Any) -> Awaitable[Any]:
    """Who a test request is: its x-person header, groups after a colon."""

    async def found() -> Any:
        raw = dict(scope["headers"]).get(b"x-person", b"").decode()
        if not raw:
            return None
        person, _, groups = raw.partition(":")
        return limits.Person(person, tuple(g for g in groups.split(",") if g))

    return found()


def policy(**changes: Any) -> Any:
    base = {"capacity": 3, "default": limits.Limit(2, 100), "retry_after": 7, "lease_seconds": 30}
    return limits.Policy(**{**base, **changes})


class Call:
    """One request through a Limits wrapper, in flight until finished."""

    def __init__(self, app: Any, person: str = "", path: str = CHAT) -> None:
        self.finish = asyncio.Event()
        self.status = 0
        self.headers: dict[bytes, bytes] = {}
        self.body = b""
        headers = [(b"x-person", person.encode())] if person else []
        scope = {"type": "http", "method": "POST", "path": path, "headers": headers,
                 "finish": self.finish}  # fmt: skip

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": b"{}", "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                self.status = message["status"]
                self.headers = dict(message.get("headers", []))
            else:
                self.body += message.get("body", b"")

        self.task = asyncio.get_running_loop().create_task(app(scope, receive, send))

    async def done(self) -> Call:
        self.finish.set()
        await self.task
        return self

    def refusal(self) -> tuple[int, int, str]:
        return self.status, int(self.headers[b"retry-after"]), json.loads(self.body)["detail"]


def gate(counts: Any, app: Any = None, host: str = "gpu-a", **changes: Any) -> Any:
    return limits.Limits(app or Answer(), policy(**changes), counts, people, "t", host)


def run(test: Callable[[], Awaitable[None]]) -> None:
    asyncio.run(asyncio.wait_for(test(), timeout=30))


def test_a_busy_host_refuses_at_once_with_retry_after_and_a_detail(counts: Any) -> None:
    async def test() -> None:
        app = gate(counts)
        held = [Call(app, f"p{i}") for i in range(3)]
        await asyncio.sleep(0.2)
        busy = await Call(app, "p9").done()
        assert busy.refusal() == (503, 7, "This service is busy: try again in 7 s.")
        assert busy.headers[b"content-type"] == b"application/json"
        await held[0].done()  # an answer ends: its slot is free again
        again = Call(app, "p9")
        await asyncio.sleep(0.2)
        assert again.status == 200
        for call in [*held[1:], again]:
            await call.done()

    run(test)


def test_a_person_is_held_to_their_generations_across_hosts(redis_url: str) -> None:
    """Across hosts needs the shared Redis (one process counts one host)."""
    counts = limits.RedisCounts(redis_url)

    async def test() -> None:
        await counts.redis.flushdb()
        host_a, host_b = gate(counts, host="gpu-a"), gate(counts, host="gpu-b")
        first, second = Call(host_a, "heavy"), Call(host_b, "heavy")
        await asyncio.sleep(0.2)
        third = await Call(host_a, "heavy").done()
        status, retry, detail = third.refusal()
        assert (status, retry) == (429, 7)
        assert "You already have 2 answers being written" in detail
        other = Call(host_a, "light")  # the host has room for another person
        await asyncio.sleep(0.2)
        assert (first.status, second.status, other.status) == (200, 200, 200)
        for call in (first, second, other):
            await call.done()

    run(test)


async def early_in_a_minute() -> None:
    """Wait (at most 10 s) until at least 10 s of the clock's minute are left: a test of the
    minute's count must not see it start again."""
    while time.time() % 60 > 50:
        await asyncio.sleep(0.5)


def test_requests_a_minute_are_limited_and_the_wait_named(counts: Any) -> None:
    async def test() -> None:
        await early_in_a_minute()
        app = gate(counts, default=limits.Limit(5, 3))
        for _ in range(3):
            assert (await Call(app, "p").done()).status == 200
        status, retry, detail = (await Call(app, "p").done()).refusal()
        assert status == 429 and 1 <= retry <= 60
        assert detail == f"You have sent 3 requests this minute, the most for your account: " \
            f"try again in {retry} s."  # fmt: skip
        assert (await Call(app, "q").done()).status == 200  # another person is not affected

    run(test)


def test_a_refusal_takes_nothing(counts: Any) -> None:
    """Refused for their answers at once, a person has not used a request of their minute, nor
    the host a slot."""

    async def test() -> None:
        await early_in_a_minute()
        app = gate(counts, capacity=2, default=limits.Limit(1, 2))
        held = Call(app, "p")
        await asyncio.sleep(0.2)
        for _ in range(3):
            assert (await Call(app, "p").done()).refusal()[0] == 429
        assert (await Call(app, "q").done()).status == 200  # the host's second slot is free
        await held.done()
        assert (await Call(app, "p").done()).status == 200  # the minute's second request
        assert "this minute" in (await Call(app, "p").done()).refusal()[2]

    run(test)


def test_the_most_generous_group_limit_applies(counts: Any) -> None:
    groups = {"service": limits.Limit(4, 100), "staff": limits.Limit(1, 100)}

    async def test() -> None:
        app = gate(counts, capacity=10, groups=groups)
        held = [Call(app, "bot:staff,service") for _ in range(4)]
        await asyncio.sleep(0.2)
        assert [c.status for c in held] == [200] * 4
        assert (await Call(app, "bot:staff,service").done()).status == 429
        one = Call(app, "person:staff")
        await asyncio.sleep(0.2)
        assert (await Call(app, "person:staff").done()).status == 429
        for call in [*held, one]:
            await call.done()

    run(test)


def test_a_client_that_goes_away_frees_its_slot(counts: Any) -> None:
    async def test() -> None:
        app = gate(counts, capacity=1)
        gone = Call(app, "p")
        await asyncio.sleep(0.2)
        gone.task.cancel()  # the server cancels the request's task when its client disconnects
        with pytest.raises(asyncio.CancelledError):
            await gone.task
        assert (await Call(app, "q").done()).status == 200

    run(test)


def test_a_dead_holders_slot_frees_when_its_lease_ends_and_a_live_one_is_renewed(
    counts: Any,
) -> None:
    async def test() -> None:
        dead = gate(counts, capacity=1, lease_seconds=1)
        lease = await dead.admit({"headers": []}, None)  # taken, never given back
        assert lease is not None
        dead.held.clear()  # the holder's process is gone: nobody renews it
        live_host = gate(counts, capacity=1, lease_seconds=1)
        assert (await Call(live_host, "p").done()).status == 503
        await asyncio.sleep(1.1)
        live = Call(live_host, "p")
        await asyncio.sleep(2.0)  # two leases long: renewed, still held
        assert live.status == 200
        assert (await Call(live_host, "q").done()).status == 503
        await live.done()

    run(test)


def test_a_chat_answered_in_the_background_holds_its_slot_until_it_ends(counts: Any) -> None:
    """The page's path: Open WebUI answers the request with task ids at once and streams the
    answer over socket.io from a task it creates."""
    ended = asyncio.Event()
    tasks: list[asyncio.Task[None]] = []

    async def create(redis: Any, coroutine: Any, id: str | None = None) -> tuple[str, Any]:
        task = asyncio.get_running_loop().create_task(coroutine)
        tasks.append(task)
        return "task-1", task

    async def answer_later() -> None:
        await ended.wait()

    async def test() -> None:
        app: Any = None

        async def page(scope: Any, receive: Any, send: Any) -> None:
            await app.background(create)(None, answer_later(), id="chat-1")
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await send({"type": "http.response.body", "body": b'{"task_ids": ["task-1"]}'})

        app = gate(counts, page, capacity=1)
        assert (await Call(app, "p").done()).status == 200
        assert (await Call(app, "q").done()).status == 503  # the answer is still being written
        ended.set()
        await tasks[0]
        assert (await Call(app, "q").done()).status == 200

    run(test)


def test_other_requests_pass_untouched(counts: Any) -> None:
    async def test() -> None:
        app = gate(counts, capacity=1)
        held = Call(app, "p")
        await asyncio.sleep(0.2)
        for path in ("/api/models", "/api/v1/chats/", "/health"):
            assert (await Call(app, "p", path=path).done()).status == 200
        await held.done()

    run(test)


def test_redis_not_answering_admits() -> None:
    async def test() -> None:
        app = gate(limits.RedisCounts(f"redis://127.0.0.1:{free_port()}/0"), capacity=1)
        first, second = Call(app, "p"), Call(app, "p")
        await asyncio.sleep(0.2)
        assert (first.status, second.status) == (200, 200)
        await first.done()
        await second.done()

    run(test)


def test_the_policy_comes_from_the_environment() -> None:
    env = {"FLEET_GATE_CAPACITY": "16", "FLEET_GATE_RETRY_AFTER": "4",
           "FLEET_GATE_LIMITS": json.dumps({"concurrent": 2, "per_minute": 20, "groups": {
               "service-accounts": {"concurrent": 20, "per_minute": 600}}})}  # fmt: skip
    found = limits.policy_from(env)
    assert found == limits.Policy(16, limits.Limit(2, 20),
                                  {"service-accounts": limits.Limit(20, 600)}, 4, 30)  # fmt: skip
    assert limits.policy_from({}) is None


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"FLEET_GATE_CAPACITY": "0"}, "FLEET_GATE_CAPACITY must be a whole number of 1 or more"),
        ({"FLEET_GATE_CAPACITY": "-3"}, "FLEET_GATE_CAPACITY must be a whole number"),
        ({"FLEET_GATE_LIMITS": '{"concurrent": "many", "per_minute": 2}'},
         "FLEET_GATE_LIMITS.concurrent must be a whole number of 1 or more, got 'many'"),
        ({"FLEET_GATE_LIMITS": '{"concurrent": 1, "per_minute": 2, "groups": {"ops": '
                               '{"concurrent": 1, "per_minute": 0}}}'},
         "FLEET_GATE_LIMITS.groups.ops.per_minute must be a whole number of 1 or more, got 0"),
        ({"FLEET_GATE_LIMITS": "[1]"}, "FLEET_GATE_LIMITS must be a JSON object"),
    ],
)  # fmt: skip
def test_bad_limits_are_refused_by_name(env: dict[str, str], message: str) -> None:
    full = {"FLEET_GATE_CAPACITY": "4",
            "FLEET_GATE_LIMITS": '{"concurrent": 1, "per_minute": 2}', **env}  # fmt: skip
    with pytest.raises(limits.LimitError, match=message.replace(".", r"\.")):
        limits.policy_from(full)


@pytest.mark.parametrize(
    ("headers", "found"),
    [
        ([(b"authorization", b"Bearer eyJ.a.b")], "eyJ.a.b"),
        ([(b"authorization", b"Bearer sk-123")], "sk-123"),
        ([(b"x-api-key", b"sk-456")], "sk-456"),
        ([(b"cookie", b"theme=dark; token=eyJ.c.d")], "eyJ.c.d"),
        ([], ""),
    ],
)
def test_the_credential_is_read_as_open_webui_reads_it(
    headers: list[tuple[bytes, bytes]], found: str
) -> None:
    assert limits.credential({"headers": headers}) == found
