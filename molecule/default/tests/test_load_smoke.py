"""A short load through the load balancer (benchmarks/load, Locust): 20 users sign in, open a
chat, ask, read the streamed answer, save it to their chat, think 1-3 s and ask again, for 15 s,
spread over both gpu-nodes by the load balancer. The model is the Ollama TEST STAND-IN, streaming
40-token answers at 40 tokens/s. Asserts what users see - no error, answers that stream - never a
timing: the figures are the benchmarks' (python -m benchmarks.load.run). Then one person over
their share of the fleet is refused with 429 and Retry-After, and the chat page shows them why."""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
from typing import Any

from lab_stack import SCREENSHOTS, pick_model, sign_in
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import WebDriverWait

from benchmarks.load.accounts import account_email, admin_token, call, ensure_accounts
from benchmarks.load.run import ADMIN_EMAIL, MODEL, OUT, PASSWORD, Lab, smoke
from lab.units import pace, unpace

# What a person at their limit of answers at once is told (roles/open_webui/files/fleet_limits.py).
TOO_MANY_AT_ONCE = "You already have 3 answers being written"


def test_twenty_users_chat_through_the_load_balancer_without_an_error() -> None:
    result, stats = smoke(Lab.find(), users=20, seconds=15, out=OUT / "smoke")
    assert stats["failures"] == [], stats["failures"]
    requests = stats["stats"]
    assert requests["sign in"]["requests"] == 20 and requests["sign in"]["failures"] == 0
    assert requests["Aggregated"]["failures"] == 0
    assert result["signin_failed"] == result["refused"] == result["cut"] == result["empty"] == 0
    assert result["answers"] >= 20, result  # every user was answered at least once
    assert requests["answer"]["requests"] >= 20 and requests["save the chat"]["requests"] >= 20
    # Streamed: each answer came in pieces (the stand-in's 40 tokens), not as one block.
    assert result["tokens"] >= 30 * result["answers"], result


def ask(url: str, token: str) -> dict[str, Any]:
    """A streamed chat through the load balancer: its status, Retry-After and detail."""
    body = {"model": MODEL, "stream": True, "messages": [{"role": "user", "content": "hi"}]}
    request = urllib.request.Request(
        f"{url}/api/chat/completions",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
    )
    try:
        with urllib.request.urlopen(request, timeout=120) as response:
            response.read()
            return {"status": response.status}
    except urllib.error.HTTPError as error:
        detail = json.loads(error.read()).get("detail")
        return {"status": error.code, "retry_after": error.headers["Retry-After"], "detail": detail}


def test_a_person_over_their_share_of_the_fleet_gets_429_with_retry_after(
    browser: WebDriver,
) -> None:
    """One load-test account asks four answers at once without a stickiness cookie, so the load
    balancer spreads them over both gpu-nodes: the fleet-wide count (the shared Redis) admits
    three (open_webui_person_limit's default) and refuses the fourth with 429, Retry-After and
    a detail naming the limit. Meanwhile the same person asks on the chat page and is shown
    that detail. The stand-in streams 30 tokens at 2 tokens/s so that they overlap."""
    lab = Lab.find()
    admin = admin_token(lab.url, ADMIN_EMAIL, lab.admin_password)
    ensure_accounts(lab.inside, admin, 1, PASSWORD)
    status, reply = call(f"{lab.url}/api/v1/auths/signin", "",
                         {"email": account_email(0), "password": PASSWORD})  # fmt: skip
    assert status == 200, reply
    person = reply["token"]
    chat_input = sign_in(browser, lab.url, PASSWORD, account_email(0))
    pick_model(browser, MODEL)
    for host in lab.gpu_nodes:
        pace(host, 2, 30)
    try:
        results: list[dict[str, Any]] = []
        threads = [
            threading.Thread(target=lambda: results.append(ask(lab.url, person))) for _ in range(4)
        ]
        for thread in threads:
            thread.start()
            time.sleep(0.5)
        # The fourth is refused at once; the three admitted stream for 15 s.
        WebDriverWait(browser, 10).until(lambda _: len(results) == 1)
        chat_input.click()
        chat_input.send_keys("Is the fleet busy?")
        chat_input.send_keys(Keys.ENTER)
        WebDriverWait(browser, 10).until(
            ec.text_to_be_present_in_element((By.TAG_NAME, "body"), TOO_MANY_AT_ONCE)
        )
        browser.save_screenshot(str(SCREENSHOTS / "over-the-limit.png"))
        for thread in threads:
            thread.join(timeout=120)
    finally:
        for host in lab.gpu_nodes:
            unpace(host)
    assert sorted(r["status"] for r in results) == [200, 200, 200, 429], results
    refused = next(r for r in results if r["status"] == 429)
    assert refused["retry_after"].isdigit(), refused
    assert refused["detail"].startswith(TOO_MANY_AT_ONCE), refused
