"""Fixtures of the whole-stack scenario: Open WebUI on the GPU host's private address (as the
load balancer reaches it) and its bootstrapped admin."""

from __future__ import annotations

import pytest
from lab_stack import ADMIN_EMAIL, GPU_HOST, api, lab_host

from lab.config import wired
from lab.podman import address


@pytest.fixture(scope="session")
def webui_url() -> str:
    return f"http://{address(GPU_HOST)}:{wired('open_webui_port')}"


@pytest.fixture(scope="session")
def admin_password() -> str:
    password: str = lab_host(GPU_HOST).file("/etc/open-webui/admin-password").content_string
    return password.strip()


@pytest.fixture(scope="session")
def webui_token(webui_url: str, admin_password: str) -> str:
    signin = api(
        "POST",
        f"{webui_url}/api/v1/auths/signin",
        body={"email": ADMIN_EMAIL, "password": admin_password},
    )
    assert signin["role"] == "admin"
    token: str = signin["token"]
    return token
