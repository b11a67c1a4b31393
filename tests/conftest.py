"""Fixtures: a moto EC2 server on loopback for the whole session, reset before each test; a few
real wheels standing for a release's."""

from __future__ import annotations

import shutil
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from fleetlib.paths import WHEELHOUSE
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
    from fleetlib.paths import REPO

    return REPO


@pytest.fixture
def wheels(tmp_path: Path) -> tuple[Path, list[Path]]:
    """Three small wheels of the wheelhouse and a large one made up (the hosts'), and one more (the
    apply toolchain's)."""
    small = sorted(WHEELHOUSE.glob("*.whl"), key=lambda w: w.stat().st_size)[:4]
    if len(small) < 4:
        pytest.skip("no wheelhouse: `make wheelhouse` builds it")
    hosts = tmp_path / "hosts"
    hosts.mkdir()
    for wheel in small[:3]:
        shutil.copy(wheel, hosts)
    large = hosts / "big_cuda_build-1.0-py3-none-any.whl"
    large.write_bytes(b"\0" * (2 * 1024 * 1024))
    return hosts, [small[3]]
