"""The lab's own pieces: names shared with the inventory, and the CLI refusing bad input."""

from __future__ import annotations

import re

import pytest
import yaml

from lab.cli import main
from lab.config import LAB_INVENTORY, LATEST_IMAGE, image_name, lab_endpoint, lab_port


def test_lab_endpoint_comes_from_the_lab_inventory() -> None:
    data = yaml.safe_load(LAB_INVENTORY.read_text())
    assert lab_endpoint() == data["endpoint_url"]
    assert lab_endpoint().startswith("http://127.0.0.1:")
    assert lab_port() == int(data["endpoint_url"].rsplit(":", 1)[1])


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
