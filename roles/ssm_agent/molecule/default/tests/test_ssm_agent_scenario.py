"""ssm_agent role with the Systems Manager agent TEST STAND-IN package (not the agent): the
pinned package at its version, the service running and enabled, started once (the idempotence
and check runs restarted nothing)."""

from __future__ import annotations

from testinfra.host import Host

VERSION = "3.3.1142.0"


def test_stand_in_package_is_installed_at_the_pinned_version(host: Host) -> None:
    package = host.package("amazon-ssm-agent")
    assert package.is_installed and package.version == VERSION
    assert host.file(f"/var/cache/llm-fleet/amazon-ssm-agent_{VERSION}_amd64.deb").exists
    assert VERSION in host.check_output("/usr/bin/amazon-ssm-agent --version")


def test_agent_runs_enabled_and_was_started_once(host: Host) -> None:
    service = host.service("amazon-ssm-agent")
    assert service.is_running and service.is_enabled
    starts = host.file("/var/lib/amazon/ssm/stand-in-starts").content_string.split()
    assert len(starts) == 1, "a re-run or check run restarted the agent"
