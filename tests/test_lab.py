"""The lab's own pieces: names shared with the inventory, and the CLI refusing bad input."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from lab.cli import main
from lab.config import (
    LAB_GROUP_VARS,
    LAB_INVENTORY,
    LATEST_IMAGE,
    image_name,
    lab_endpoint,
    lab_network,
    lab_port,
)


def test_lab_endpoint_comes_from_the_lab_inventory() -> None:
    data = yaml.safe_load(LAB_INVENTORY.read_text())
    assert lab_endpoint() == data["endpoint_url"]
    # moto listens on the lab network's gateway: the controller and the lab hosts reach it.
    assert lab_endpoint().startswith(f"http://{lab_network().gateway}:")
    assert lab_port() == int(data["endpoint_url"].rsplit(":", 1)[1])


def test_lab_addresses_are_fixed_and_inside_the_lab_network() -> None:
    network = lab_network()
    fixed = {network.gateway, network.state_address, network.load_balancer_address}
    hosts = {network.host_address(i) for i in range(1, 17)}
    assert len(fixed) == 3 and not {str(a) for a in fixed} & hosts
    with pytest.raises(ValueError, match="does not fit"):
        network.host_address(250)


def test_a_lab_address_outside_the_subnet_is_refused_by_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import lab.config

    data = yaml.safe_load(LAB_GROUP_VARS.read_text())
    data["lab_network"]["state_address"] = "192.168.1.10"
    bad = tmp_path / "all.yml"
    bad.write_text(yaml.safe_dump(data))
    monkeypatch.setattr(lab.config, "LAB_GROUP_VARS", bad)
    with pytest.raises(ValueError, match="state_address"):
        lab.config.lab_network()


def test_image_name_is_stable_and_names_its_recipe() -> None:
    assert image_name() == image_name()
    assert re.fullmatch(r"localhost/llm-fleet/debian12-systemd:[0-9a-f]{12}", image_name())
    assert LATEST_IMAGE.endswith(":latest")


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["up", "--hosts", "0"], "--hosts must be at least 1"),
        (["up", "--roles", "gpu-node,web-node"], "unknown lab role(s) ['web-node']"),
    ],
)
def test_up_refuses_bad_arguments_before_starting_anything(
    argv: list[str], message: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import lab.cli
    import lab.state

    monkeypatch.setattr(lab.state.LabState, "load", staticmethod(lambda: None))
    monkeypatch.setattr(lab.cli, "ensure_image", lambda: pytest.fail("must not build"))
    with pytest.raises(SystemExit, match=re.escape(message)):
        main(argv)
