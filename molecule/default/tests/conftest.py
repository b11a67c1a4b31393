"""Fixtures of the whole-stack scenario: Open WebUI through the lab's load balancer (the ALB's
stand-in) and the fleet's bootstrapped admin. Tests marked disruptive (they stop hosts and
servers) run after all others, and those marked last (they remove a host) after them."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from lab_stack import ADMIN_EMAIL, GPU_HOST, SCREENSHOTS, lab_host, signin
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.remote.webdriver import WebDriver

from lab.ca import CA_CERT
from lab.config import lab_network

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "disruptive: stops a host or a server; runs last")
    config.addinivalue_line("markers", "last: removes a host for good; runs after the rest")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    items.sort(
        key=lambda item: (
            item.get_closest_marker("disruptive") is not None,
            item.get_closest_marker("last") is not None,
        )
    )


@pytest.fixture(scope="session")
def webui_url() -> str:
    """What users open: the load balancer in front of the gpu-nodes."""
    return f"http://{lab_network().load_balancer_address}"


@pytest.fixture(scope="session")
def admin_password() -> str:
    password: str = lab_host(GPU_HOST).file("/etc/open-webui/admin-password").content_string
    return password.strip()


@pytest.fixture(scope="session")
def webui_token(webui_url: str, admin_password: str) -> str:
    admin = signin(webui_url, ADMIN_EMAIL, admin_password)
    assert admin["role"] == "admin"
    token: str = admin["token"]
    return token


@pytest.fixture(scope="session")
def browser_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The browser's home: its certificate store (NSS) trusts the lab's CA, as an organisation's
    managed browsers trust its private CA (the identity provider's certificate is from it)."""
    home = tmp_path_factory.mktemp("browser-home")
    store = f"sql:{home / '.pki' / 'nssdb'}"
    (home / ".pki" / "nssdb").mkdir(parents=True)
    subprocess.run(["certutil", "-N", "-d", store, "--empty-password"], check=True)
    subprocess.run(
        ["certutil", "-A", "-n", "llm-fleet lab CA", "-t", "C,,", "-i", str(CA_CERT), "-d", store],
        check=True,
    )
    return home


@pytest.fixture
def browser(browser_home: Path) -> Iterator[WebDriver]:
    for binary in (CHROMIUM, CHROMEDRIVER):
        assert binary.exists(), f"{binary} is missing: `make setup` installs chromium-driver"
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for argument in ("--headless=new", "--no-sandbox", "--window-size=1280,900"):
        options.add_argument(argument)
    service = Service(str(CHROMEDRIVER), env={**os.environ, "HOME": str(browser_home)})
    driver = webdriver.Chrome(service=service, options=options)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    try:
        yield driver
    finally:
        driver.save_screenshot(str(SCREENSHOTS / "last-page.png"))
        driver.quit()
