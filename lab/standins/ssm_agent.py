"""Pack the Systems Manager agent TEST STAND-IN (tests/fixtures/ssm_agent_standin, not the AWS
Systems Manager agent, whose package cannot be downloaded here) as a Debian package with the
real package's name and paths (/usr/bin/amazon-ssm-agent, its systemd unit).

    python -m lab.standins.ssm_agent VERSION

writes .cache/ssm-agent-standin/amazon-ssm-agent_VERSION_amd64.deb and its .sha256 beside it;
the same version always gives the same bytes."""

from __future__ import annotations

import sys
from pathlib import Path

from fleetlib.paths import CACHE, REPO
from lab.standins.deb import cli, pack

SOURCE = REPO / "tests" / "fixtures" / "ssm_agent_standin"
OUT = CACHE / "ssm-agent-standin"


def build(version: str) -> Path:
    return pack(
        "amazon-ssm-agent",
        version,
        "the AWS Systems Manager agent",
        "Same package name, binary and unit as the real agent; it registers nothing with AWS.",
        {
            Path("usr/bin/amazon-ssm-agent"): (SOURCE / "amazon-ssm-agent", 0o755),
            Path("lib/systemd/system/amazon-ssm-agent.service"): (
                SOURCE / "amazon-ssm-agent.service",
                0o644,
            ),
            Path("usr/share/amazon-ssm-agent/VERSION"): (version + "\n", 0o644),
        },
        OUT,
    )


if __name__ == "__main__":
    raise SystemExit(cli(build, __doc__, sys.argv[1:]))
