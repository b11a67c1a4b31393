"""The Systems Manager agent's package is never installed unchecked: without a sha256 checksum,
or with a malformed one, the ssm_agent role stops before it downloads or installs anything and
says what it needs. The play targets the controller in check mode."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import refused_before_any_change


@pytest.mark.parametrize(
    "checksum", ["", "md5:0123456789abcdef0123456789abcdef", "sha256:not-hex"], ids=str
)
def test_a_missing_or_bad_checksum_is_refused_before_any_download(
    tmp_path: Path, checksum: str
) -> None:
    output = refused_before_any_change(
        tmp_path,
        "ssm_agent",
        {"ssm_agent_package_checksum": checksum},
        "amazon-ssm-agent_3.3.1142.0_amd64.deb: needs a checksum as sha256:<64 hex>",
    )
    assert "Download the artifact" not in output and "Install the agent package" not in output
