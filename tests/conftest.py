"""Fixtures: a moto EC2 server on loopback for the whole session, reset before each test."""

from __future__ import annotations

import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from lab.ec2 import MotoServer, ec2_client, free_port


@pytest.fixture(scope="session")
def moto_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MotoServer]:
    server = MotoServer(port=free_port(), log=tmp_path_factory.mktemp("moto") / "moto.log")
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def ec2(moto_server: MotoServer) -> Any:
    """An EC2 client on a freshly reset moto server."""
    request = urllib.request.Request(f"{moto_server.endpoint}/moto-api/reset", method="POST")
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 200
    return ec2_client(moto_server.endpoint)


@pytest.fixture
def repo() -> Path:
    from lab.config import REPO

    return REPO
