"""Chat users for Locust: each signs in to Open WebUI through the load balancer, opens a chat,
asks, reads the streamed answer, saves the exchange to its chat (as the browser does), thinks,
and asks again. Two paths (LOAD_PATH picks one): "api" (ChatUser) streams the answer over the
HTTP response, as an API client does; "page" (PageUser) asks as the chat page does - with the
chat, message and socket.io session ids, so that Open WebUI answers at once with task ids and
writes the answer in a background task - and reads the answer's events over socket.io
(python-socketio's client, through the load balancer, as the page's websocket). Run by
benchmarks/load/run.py (or by hand: `locust -f benchmarks/load/locustfile.py --host
http://10.89.42.11 ChatUser` with the LOAD_* variables below).

Reported to Locust as requests: "sign in", "open a chat", "save the chat", "answer" (until the
stream's headers; a failed or cut stream fails it), "first token" (time to first token),
"whole answer" (until the stream's end) and "refused" (a busy host's 503 or a person's 429 with
Retry-After and a JSON detail: not a failure; the user waits Retry-After before asking again, as
a well-behaved client does, and a refusal without them fails). Inter-token gaps are too many
for Locust's per-request statistics: each process keeps them in a histogram and writes it, with
the counts of answers, tokens, cut streams and refusals, to LOAD_RESULT_FILE when the run stops.

    LOAD_PASSWORD     the load-test accounts' password (benchmarks/load/accounts.py creates them)
    LOAD_ACCOUNTS     how many accounts there are (users take them in turn)
    LOAD_MODEL        the model asked (default llama3.2:1b)
    LOAD_THINK        think time between questions, seconds: "MIN,MAX" (default 0,0)
    LOAD_COOKIE       pin every user to one host: the stickiness cookie's value (an instance id)
    LOAD_HEAVY        the first N users are one person (account 0, their answers' figures named
                      "... (heavy)"), the others take the other accounts in turn. The users of
                      one account share one session (it signs in once)
    LOAD_RESULT_FILE  where the histogram and counts go (JSON)
    LOAD_MEASURE_AFTER_SPAWN  "1": count from LOAD_SETTLE_SECONDS (default 0) after every user
                      has signed in (Locust's own statistics are reset then too), for
                      LOAD_MEASURE_SECONDS, then stop; a file LOAD_RESULT_FILE.measuring marks
                      the start. Signing in is the costliest request (the password hash): a
                      surge of sign-ins must not be measured as the chats' figures. Nor the
                      herd that follows it: sign-ins that share a core end together, and every
                      user then asks in the same instant, once
    LOAD_EVENTS_FILE  optional: one JSON line per question (start, end, ok, error, the host that
                      served it by its stickiness cookie, the chat), for the failover analysis
"""

from __future__ import annotations

import itertools
import json
import os
import random
import time
import uuid
from pathlib import Path
from typing import Any

import gevent.event
import socketio
from locust import HttpUser, between, events, task
from locust.env import Environment
from locust.exception import StopUser

from benchmarks.load.accounts import account_email
from benchmarks.load.stats import GapHistogram

MODEL = os.environ.get("LOAD_MODEL", "llama3.2:1b")
THINK = tuple(float(x) for x in os.environ.get("LOAD_THINK", "0,0").split(","))
ACCOUNTS = int(os.environ.get("LOAD_ACCOUNTS", "1"))
QUESTION = "What should a new operator of the fleet check first?"

_numbers = itertools.count()
_gaps = GapHistogram()
_counts = {
    "answers": 0,
    "tokens": 0,
    "cut": 0,
    "empty": 0,
    "refused": 0,
    "busy": 0,
    "signin_failed": 0,
}
_window = {"started": time.monotonic(), "signed_in": 0}
_sessions: dict[str, Any] = {}  # email -> AsyncResult of its session token
_events_path = os.environ.get("LOAD_EVENTS_FILE")
_events = open(_events_path, "a") if _events_path else None  # noqa: SIM115 (the run's length)


class ChatUser(HttpUser):
    wait_time = between(THINK[0], THINK[-1])
    label = ""

    def on_start(self) -> None:
        cookie = os.environ.get("LOAD_COOKIE")
        if cookie:
            self.client.cookies.set("AWSALB", cookie)
        number = next(_numbers)
        heavy = int(os.environ.get("LOAD_HEAVY") or 0)
        self.label = " (heavy)" if number < heavy else ""
        if heavy:
            number = 0 if number < heavy else 1 + (number - heavy) % max(ACCOUNTS - 1, 1)
        token = self.session(account_email(number % ACCOUNTS))
        if not token:
            _counts["signin_failed"] += 1
            signed_in(self.environment)
            raise StopUser
        self.client.headers["Authorization"] = f"Bearer {token}"
        self.token = token
        self.chat_id = self.open_chat()
        self.connect()
        signed_in(self.environment)

    def session(self, email: str) -> str:
        """The account's session token: signed in once, shared by every user of the account (a
        person's tabs, a script's parallel requests). Open WebUI lets an account sign in 15
        times in 3 minutes: a heavy person signing in for each of 20 streams would lose some."""
        pending = _sessions.get(email)
        if pending is None:
            pending = _sessions[email] = gevent.event.AsyncResult()
            pending.set(self.sign_in(email))
        token: str = pending.get()
        return token

    def sign_in(self, email: str) -> str:
        with self.client.post(
            "/api/v1/auths/signin",
            json={"email": email, "password": os.environ["LOAD_PASSWORD"]},
            name="sign in",
            catch_response=True,
        ) as response:
            token: str = response.json().get("token", "") if response.status_code == 200 else ""
            if not token:
                response.failure(f"sign-in refused: {response.status_code} {response.text[:200]}")
        return token

    def connect(self) -> None:
        """What a user does once before asking (the page user opens its socket.io here)."""

    def open_chat(self) -> str:
        reply = self.client.post(
            "/api/v1/chats/new",
            json={"chat": {"title": "load test", "models": [MODEL], "messages": []}},
            name="open a chat",
        )
        chat_id: str = reply.json()["id"] if reply.ok else ""
        return chat_id

    @task
    def ask(self) -> None:
        messages = [{"role": "user", "content": QUESTION}]
        self.error = ""
        started = time.time()
        self.retry_after = 0.0
        answer = self.stream_answer(messages)
        if self.retry_after:
            # At least Retry-After, with jitter so that the refused do not come back together.
            time.sleep(self.retry_after * random.uniform(1.0, 1.5))  # gevent: this user alone
        if _events is not None:
            event = {"start": started, "end": time.time(), "ok": answer is not None,
                     "error": self.error, "host": self.client.cookies.get("AWSALB", ""),
                     "chat": self.chat_id}  # fmt: skip
            _events.write(json.dumps(event) + "\n")
            _events.flush()
        if answer is not None and self.chat_id:
            messages.append({"role": "assistant", "content": answer})
            self.client.post(
                f"/api/v1/chats/{self.chat_id}",
                json={"chat": {"title": "load test", "models": [MODEL], "messages": messages}},
                name="save the chat",
            )

    def refused(self, response: Any, started: float) -> bool:
        """A refusal the fleet means (busy()): counted as refused, not failed, and this user
        waits its Retry-After before asking again."""
        if not busy(response):
            return False
        _counts["busy"] += 1
        self.retry_after = float(response.headers["Retry-After"])
        self.error = f"{response.status_code} {response.json()['detail']}"
        response.success()
        fire(f"refused{self.label}", (time.perf_counter() - started) * 1000)
        return True

    def stream_answer(self, messages: list[dict[str, str]]) -> str | None:
        """One streamed chat completion: None when it failed or was cut."""
        body = {"model": MODEL, "stream": True, "messages": messages}
        started = time.perf_counter()
        first: float | None = None
        last = started
        pieces: list[str] = []
        with self.client.post(
            "/api/chat/completions",
            json=body,
            stream=True,
            name=f"answer{self.label}",
            catch_response=True,
        ) as response:
            if self.refused(response, started):
                return None
            if response.status_code != 200:
                _counts["refused"] += 1
                self.error = f"{response.status_code} {response.text[:200]}"
                response.failure(self.error)
                return None
            done = False
            try:
                # chunk_size=None: each piece as it arrives (the default, 512 bytes, would hold
                # tokens back until several have come and add that wait to every figure).
                for raw in response.iter_lines(chunk_size=None):
                    line = raw.decode() if isinstance(raw, bytes) else raw
                    if line == "data: [DONE]":
                        done = True
                        break
                    if not line.startswith("data: "):
                        continue
                    content = "".join(
                        (choice.get("delta") or {}).get("content") or ""
                        for choice in json.loads(line[6:]).get("choices", [])
                    )
                    if not content:
                        continue
                    now = time.perf_counter()
                    if first is None:
                        first = now
                        fire(f"first token{self.label}", (now - started) * 1000)
                    else:
                        _gaps.add(now - last)
                    last = now
                    pieces.append(content)
            except Exception as exc:  # what the user sees: a stream cut short
                _counts["cut"] += 1
                self.error = f"stream cut after {len(pieces)} pieces: {exc}"
                response.failure(self.error)
                return None
            if not done:
                _counts["cut"] += 1
                self.error = f"stream ended without [DONE] after {len(pieces)} pieces"
                response.failure(self.error)
                return None
            if not pieces:
                _counts["empty"] += 1
                self.error = "the answer was empty"
                response.failure(self.error)
                return None
            _counts["answers"] += 1
            _counts["tokens"] += len(pieces)
            fire(f"whole answer{self.label}", (time.perf_counter() - started) * 1000)
            return "".join(pieces)


class Answer:
    """One answer's events over socket.io."""

    def __init__(self) -> None:
        self.first: float | None = None
        self.text = ""
        self.error = ""
        self.done = gevent.event.Event()


def texts(value: Any) -> list[str]:
    """Every "text" or "content" string in an event's output (Open WebUI's output items)."""
    if isinstance(value, dict):
        found = [v for k, v in value.items() if k in ("text", "content") and isinstance(v, str)]
        return found + [t for v in value.values() if not isinstance(v, str) for t in texts(v)]
    if isinstance(value, list):
        return [t for item in value for t in texts(item)]
    return []


class PageUser(ChatUser):
    """Chats as the chat page does: the answer comes over socket.io, not the HTTP response.
    Reported as "answer" (the request that starts it, until its task ids), "first token" and
    "whole answer" (from the events), like ChatUser's."""

    answer_timeout = 300.0

    def connect(self) -> None:
        self.answers: dict[str, Answer] = {}
        self.sio = socketio.Client(reconnection=False)
        self.sio.on("events", self.on_event)
        # The host the load balancer pinned this user to (set by LOAD_COOKIE or by its reply).
        cookie = next((c.value for c in self.client.cookies if c.name == "AWSALB"), None)
        self.sio.connect(
            self.host, socketio_path="/ws/socket.io", transports=["websocket"],
            auth={"token": self.token}, headers={"Cookie": f"AWSALB={cookie}"} if cookie else {},
        )  # fmt: skip

    def on_stop(self) -> None:
        if hasattr(self, "sio"):  # not when its sign-in failed
            self.sio.disconnect()

    def on_event(self, event: dict[str, Any]) -> None:
        answer = self.answers.get(str(event.get("message_id")))
        data = event.get("data") or {}
        # Deltas come as "response:completion" events, the end as "chat:completion" with done.
        if answer is None or data.get("type") not in ("chat:completion", "response:completion"):
            return
        body = data.get("data") or {}
        if body.get("error"):
            answer.error = json.dumps(body["error"])[:200]
            answer.done.set()
            return
        if answer.first is None and (
            body.get("delta")
            or body.get("content")
            or body.get("choices")
            or (body.get("output") and not body.get("done"))
        ):
            answer.first = time.perf_counter()
        if body.get("done"):
            answer.text = " ".join(texts(body.get("output") or body.get("content") or ""))
            answer.done.set()

    def stream_answer(self, messages: list[dict[str, str]]) -> str | None:
        message_id = str(uuid.uuid4())
        answer = self.answers[message_id] = Answer()
        body = {
            "model": MODEL,
            "stream": True,
            "messages": messages,
            "chat_id": self.chat_id,
            "id": message_id,
            "session_id": self.sio.get_sid(),
            "background_tasks": {},
        }
        started = time.perf_counter()
        try:
            with self.client.post(
                "/api/chat/completions", json=body, name=f"answer{self.label}", catch_response=True
            ) as response:
                if self.refused(response, started):
                    return None
                if response.status_code != 200 or not response.json().get("task_ids"):
                    _counts["refused"] += 1
                    self.error = f"{response.status_code} {response.text[:200]}"
                    response.failure(self.error)
                    return None
            if not answer.done.wait(timeout=self.answer_timeout) or answer.error:
                _counts["cut"] += 1
                self.error = answer.error or f"no end of the answer in {self.answer_timeout:.0f} s"
                fire_failure(f"whole answer{self.label}", self.error)
                return None
        finally:
            self.answers.pop(message_id, None)
        if answer.first is not None:
            fire(f"first token{self.label}", (answer.first - started) * 1000)
        words = answer.text.split()
        if not words:
            _counts["empty"] += 1
            self.error = "the answer was empty"
            fire_failure(f"whole answer{self.label}", self.error)
            return None
        _counts["answers"] += 1
        _counts["tokens"] += len(words)
        fire(f"whole answer{self.label}", (time.perf_counter() - started) * 1000)
        return answer.text


def fire_failure(name: str, error: str) -> None:
    events.request.fire(  # type: ignore[no-untyped-call]
        request_type="STREAM", name=name, response_time=0, response_length=0,
        exception=RuntimeError(error), context={},
    )  # fmt: skip


def busy(response: Any) -> bool:
    """A refusal the fleet means: 429 or 503 with Retry-After (seconds) and a JSON detail."""
    if response.status_code not in (429, 503):
        return False
    if not response.headers.get("Retry-After", "").isdigit():
        return False
    try:
        return isinstance(response.json().get("detail"), str)
    except ValueError:
        return False


def fire(name: str, milliseconds: float) -> None:
    events.request.fire(  # type: ignore[no-untyped-call]
        request_type="STREAM", name=name, response_time=milliseconds, response_length=0,
        exception=None, context={},
    )  # fmt: skip


def signed_in(environment: Environment) -> None:
    """One more user is ready to ask (signed in, chat opened) or has given up: once all are, the
    measured window starts, LOAD_SETTLE_SECONDS later."""
    _window["signed_in"] += 1
    runner = environment.runner
    if (
        os.environ.get("LOAD_MEASURE_AFTER_SPAWN") != "1"
        or runner is None
        or _window["signed_in"] != runner.target_user_count
    ):
        return
    gevent.spawn_later(float(os.environ.get("LOAD_SETTLE_SECONDS") or 0), measure, environment)


def measure(environment: Environment) -> None:
    """The measured window: from now, for LOAD_MEASURE_SECONDS."""
    runner = environment.runner
    if runner is None:
        return
    _gaps.counts.clear()
    for name in ("answers", "tokens", "cut", "empty", "refused", "busy"):
        _counts[name] = 0
    _window["started"] = time.monotonic()
    runner.stats.reset_all()
    Path(os.environ["LOAD_RESULT_FILE"] + ".measuring").touch()
    gevent.spawn_later(float(os.environ["LOAD_MEASURE_SECONDS"]), runner.quit)


def write_result(environment: Environment, **_: Any) -> None:
    path = os.environ.get("LOAD_RESULT_FILE")
    if path:
        seconds = round(time.monotonic() - _window["started"], 2)
        with open(path, "w") as out:
            json.dump({"gaps": _gaps.to_json(), "seconds": seconds, **_counts}, out)


events.test_stop.add_listener(write_result)  # type: ignore[no-untyped-call]
