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
    fixed = {
        network.gateway,
        network.state_address,
        network.load_balancer_address,
        network.identity_address,
    }
    hosts = {network.host_address(i) for i in range(1, 17)}
    assert len(fixed) == 4 and not {str(a) for a in fixed} & hosts
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


def test_the_lab_ca_signs_a_host_certificate_once_for_its_name_and_address(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import ipaddress

    from cryptography import x509

    import lab.ca as ca

    monkeypatch.setattr(ca, "CA_DIR", tmp_path)
    monkeypatch.setattr(ca, "CA_CERT", tmp_path / "ca.crt")
    monkeypatch.setattr(ca, "CA_KEY", tmp_path / "ca.key")
    key, cert = ca.issue("llm-fleet-lab-idp", "10.89.42.12")
    authority = x509.load_pem_x509_certificate(ca.CA_CERT.read_bytes())
    issued = x509.load_pem_x509_certificate(cert.read_bytes())
    issued.verify_directly_issued_by(authority)
    names = issued.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert names.get_values_for_type(x509.IPAddress) == [ipaddress.ip_address("10.89.42.12")]
    assert names.get_values_for_type(x509.DNSName) == ["llm-fleet-lab-idp"]
    assert authority.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert (key.stat().st_mode & 0o777, ca.CA_KEY.stat().st_mode & 0o777) == (0o600, 0o600)
    before = cert.read_bytes()
    assert ca.issue("llm-fleet-lab-idp", "10.89.42.12") == (key, cert)
    assert cert.read_bytes() == before and ca.ensure_ca() == ca.CA_CERT.read_text()
