"""After a deploy, the platform checked through its public URL as a user uses it: Open WebUI's
health, its version, the first admin signing in, the models listed, one chat answered and one
fleet-rag answer citing a source - each timed. A busy fleet's refusal (503 or 429 with
Retry-After) is waited out as it asks, a few times, before a check fails. The result is a
Markdown table (the deploy's job summary) and the exit status (1 when a check failed).

    python -m tools.post_deploy_check --url https://chat.example.com --model llama3.2:1b \\
        [--rag-question "What does the handbook say about ...?"] [--summary FILE]

The admin's password comes from the environment (LLM_FLEET_ADMIN_PASSWORD), never from the
command line; the deploy reads it from Secrets Manager. Without --rag-question the RAG check is
skipped (the fleet's documents are the operator's: ask about one of them)."""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ADMIN_EMAIL = "admin@llm-fleet.local"


class CheckFailed(Exception):
    pass


# A busy fleet (503) or an account at its share (429) says how long to wait (Retry-After): the
# check waits that long, at most this long each time and this many times, then fails by name.
BUSY_STATUSES = frozenset({429, 503})
BUSY_WAIT_MAX_S = 30
BUSY_RETRIES = 3


def retry_after(exc: urllib.error.HTTPError) -> int | None:
    """The seconds a refusal asks to wait, when it is a busy one that says so."""
    value = exc.headers.get("Retry-After", "") if exc.headers else ""
    if exc.code not in BUSY_STATUSES or not value.strip().isdigit():
        return None
    return min(int(value), BUSY_WAIT_MAX_S)


@dataclass
class Client:
    url: str
    token: str = ""
    timeout: float = 300
    busy_retries: int = BUSY_RETRIES
    waited: list[int] = field(default_factory=list)  # each Retry-After honoured, in seconds

    def call(self, method: str, path: str, body: object = None) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        for attempt in range(self.busy_retries + 1):
            request = urllib.request.Request(f"{self.url}{path}", method=method, data=data)
            request.add_header("Content-Type", "application/json")
            if self.token:
                request.add_header("Authorization", f"Bearer {self.token}")
            try:
                with urllib.request.urlopen(request, timeout=self.timeout) as response:
                    return json.loads(response.read() or b"null")
            except urllib.error.HTTPError as exc:
                detail = exc.read().decode(errors="replace")[:200]
                wait = retry_after(exc)
                if wait is None or attempt == self.busy_retries:
                    raise CheckFailed(f"{method} {path}: HTTP {exc.code} {detail}") from None
                self.waited.append(wait)
                time.sleep(wait)
            except (urllib.error.URLError, OSError) as exc:
                raise CheckFailed(f"{method} {path}: {exc}") from None
        raise AssertionError("unreachable: the last attempt returns or raises")


@dataclass
class Report:
    rows: list[tuple[str, str, float, str]] = field(default_factory=list)

    def run(self, name: str, check: Callable[[], str]) -> bool:
        started = time.monotonic()
        try:
            detail, result = check(), "ok"
        except CheckFailed as exc:
            detail, result = str(exc), "FAILED"
        self.rows.append((name, result, time.monotonic() - started, detail))
        return result == "ok"

    def skip(self, name: str, why: str) -> None:
        self.rows.append((name, "skipped", 0.0, why))

    @property
    def failed(self) -> bool:
        return any(result == "FAILED" for _, result, _, _ in self.rows)

    def markdown(self, url: str) -> str:
        lines = [f"### Post-deploy check: {url}", "", "| Check | Result | Seconds | Detail |"]
        lines.append("| --- | --- | ---: | --- |")
        for name, result, seconds, detail in self.rows:
            cell = detail.replace("|", "\\|").replace("\n", " ")[:160]
            lines.append(f"| {name} | {result} | {seconds:.2f} | {cell} |")
        return "\n".join(lines) + "\n"


def answer(client: Client, model: str, question: str) -> str:
    body = {"model": model, "stream": False, "messages": [{"role": "user", "content": question}]}
    reply = client.call("POST", "/api/chat/completions", body)
    text = str(reply["choices"][0]["message"]["content"]).strip()
    if not text:
        raise CheckFailed(f"{model} answered nothing")
    return text


def check(
    url: str, password: str, model: str, rag_model: str, rag_question: str, email: str,
    health_wait_s: float = 120,
) -> Report:  # fmt: skip
    report = Report()
    client = Client(url.rstrip("/"))

    def health() -> str:
        deadline = time.monotonic() + health_wait_s
        while True:
            try:
                status = client.call("GET", "/health")
                if status and status.get("status") is True:
                    return "Open WebUI answers /health"
                raise CheckFailed(f"/health said {status}")
            except CheckFailed:
                if time.monotonic() >= deadline:
                    raise
                time.sleep(5)

    def version() -> str:
        return f"Open WebUI {client.call('GET', '/api/version')['version']}"

    def sign_in() -> str:
        result = client.call("POST", "/api/v1/auths/signin", {"email": email, "password": password})
        if result.get("role") != "admin":
            raise CheckFailed(f"{email} signed in as {result.get('role')}, not admin")
        client.token = str(result["token"])
        return f"{email} (admin)"

    def models() -> str:
        listed = {m["id"] for m in client.call("GET", "/api/models")["data"]}
        missing = {model, rag_model} - listed
        if missing:
            raise CheckFailed(f"not listed: {sorted(missing)} (listed: {sorted(listed)})")
        return f"{len(listed)} models, {model} and {rag_model} among them"

    def chat() -> str:
        before = len(client.waited)
        text = answer(client, model, "Reply with one short sentence.")[:80]
        busy = client.waited[before:]
        return text + (f" (the fleet was busy: waited {sum(busy)} s as asked)" if busy else "")

    def rag() -> str:
        text = answer(client, rag_model, rag_question)
        sources = text.rpartition("Sources:")[2]
        cited = re.findall(r"^\s*\d+\.\s+(.+)$", sources, flags=re.MULTILINE)
        if not cited:
            raise CheckFailed(f"{rag_model} cited no source: {text[-120:]!r}")
        return f"cites {cited[0].strip()}"

    if not report.run("health", health):
        return report
    report.run("version", version)
    if not report.run("admin sign-in", sign_in):
        return report
    report.run("models", models)
    report.run(f"chat ({model})", chat)
    if rag_question:
        report.run(f"RAG answer ({rag_model})", rag)
    else:
        report.skip(f"RAG answer ({rag_model})", "no --rag-question")
    return report


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.post_deploy_check", description=__doc__)
    parser.add_argument("--url", required=True, help="the public URL (the load balancer)")
    parser.add_argument("--model", required=True, help="a model to chat with")
    parser.add_argument("--rag-model", default="fleet-rag")
    parser.add_argument("--rag-question", default="")
    parser.add_argument("--email", default=ADMIN_EMAIL)
    parser.add_argument("--summary", type=Path, help="append the Markdown table here")
    parser.add_argument(
        "--health-wait", type=float, default=120, help="seconds to wait for /health to answer"
    )
    args = parser.parse_args(argv)
    password = os.environ.get("LLM_FLEET_ADMIN_PASSWORD", "")
    if not password:
        raise SystemExit("post_deploy_check: set LLM_FLEET_ADMIN_PASSWORD (the first admin's)")
    report = check(
        args.url, password, args.model, args.rag_model, args.rag_question, args.email,
        args.health_wait,
    )  # fmt: skip
    table = report.markdown(args.url)
    print(table)
    if args.summary:
        with args.summary.open("a") as out:
            out.write(table)
    return 1 if report.failed else 0


if __name__ == "__main__":
    sys.exit(main())
