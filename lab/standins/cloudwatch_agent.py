"""Pack the CloudWatch agent TEST STAND-IN (tests/fixtures/cloudwatch_agent_standin, not the
Amazon CloudWatch agent, whose package cannot be downloaded here) as a Debian package with the
real package's name and layout under /opt/aws/amazon-cloudwatch-agent.

    python -m lab.standins.cloudwatch_agent VERSION

writes .cache/cloudwatch-agent-standin/amazon-cloudwatch-agent_VERSION_amd64.deb and its .sha256
beside it. The package is reproducible: the same version always gives the same bytes."""

from __future__ import annotations

import sys
from pathlib import Path

from fleetlib.paths import CACHE, REPO
from lab.standins.deb import cli, pack

SOURCE = REPO / "tests" / "fixtures" / "cloudwatch_agent_standin"
OUT = CACHE / "cloudwatch-agent-standin"
HOME = Path("opt/aws/amazon-cloudwatch-agent")


def build(version: str) -> Path:
    return pack(
        "amazon-cloudwatch-agent",
        version,
        "the Amazon CloudWatch agent",
        "Same package name, paths and control commands as the real agent; it ships nothing to AWS.",
        {
            HOME / "bin" / "amazon-cloudwatch-agent": (SOURCE / "amazon-cloudwatch-agent", 0o755),
            HOME / "bin" / "amazon-cloudwatch-agent-ctl": (
                SOURCE / "amazon-cloudwatch-agent-ctl",
                0o755,
            ),
            Path("etc/systemd/system/amazon-cloudwatch-agent.service"): (
                SOURCE / "amazon-cloudwatch-agent.service",
                0o644,
            ),
            HOME / "bin" / "CWAGENT_VERSION": (version + "\n", 0o644),
        },
        OUT,
        [HOME / folder for folder in ("etc/amazon-cloudwatch-agent.d", "logs", "var", "doc")],
    )


if __name__ == "__main__":
    raise SystemExit(cli(build, __doc__, sys.argv[1:]))
