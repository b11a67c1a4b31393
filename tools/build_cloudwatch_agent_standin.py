"""Pack the CloudWatch agent TEST STAND-IN (tests/fixtures/cloudwatch_agent_standin, not the
Amazon CloudWatch agent, whose package cannot be downloaded here) as a Debian package with the
real package's name and layout under /opt/aws/amazon-cloudwatch-agent.

    python -m tools.build_cloudwatch_agent_standin VERSION

writes .cache/cloudwatch-agent-standin/amazon-cloudwatch-agent_VERSION_amd64.deb and its .sha256
beside it. The package is reproducible: the same version always gives the same bytes."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from lab.config import REPO
from tools.artifacts import write_checksum

SOURCE = REPO / "tests" / "fixtures" / "cloudwatch_agent_standin"
OUT = REPO / ".cache" / "cloudwatch-agent-standin"
HOME = Path("opt/aws/amazon-cloudwatch-agent")
CONTROL = """Package: amazon-cloudwatch-agent
Version: {version}
Architecture: amd64
Maintainer: llm-fleet tests <tests@llm-fleet.invalid>
Depends: python3, systemd
Section: admin
Priority: optional
Description: TEST STAND-IN for the Amazon CloudWatch agent (built by llm-fleet's tests)
 Same package name, paths and control commands as the real agent; it ships nothing to AWS.
"""
POSTINST = "#!/bin/sh\nset -e\nsystemctl daemon-reload || true\n"


def build(version: str) -> Path:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "root"
        files = {
            HOME / "bin" / "amazon-cloudwatch-agent": (SOURCE / "amazon-cloudwatch-agent", 0o755),
            HOME / "bin" / "amazon-cloudwatch-agent-ctl": (
                SOURCE / "amazon-cloudwatch-agent-ctl",
                0o755,
            ),
            Path("etc/systemd/system/amazon-cloudwatch-agent.service"): (
                SOURCE / "amazon-cloudwatch-agent.service",
                0o644,
            ),
        }
        for target, (source, mode) in files.items():
            (root / target).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, root / target)
            (root / target).chmod(mode)
        (root / HOME / "bin" / "CWAGENT_VERSION").write_text(version + "\n")
        for folder in ("etc/amazon-cloudwatch-agent.d", "logs", "var", "doc"):
            (root / HOME / folder).mkdir(parents=True, exist_ok=True)
        debian = root / "DEBIAN"
        debian.mkdir()
        (debian / "control").write_text(CONTROL.format(version=version))
        (debian / "postinst").write_text(POSTINST)
        (debian / "postinst").chmod(0o755)
        for path in [root, *root.rglob("*")]:
            os.utime(path, (0, 0), follow_symlinks=False)
        OUT.mkdir(parents=True, exist_ok=True)
        package = OUT / f"amazon-cloudwatch-agent_{version}_amd64.deb"
        subprocess.run(
            ["dpkg-deb", "--root-owner-group", "-Zxz", "--build", str(root), str(package)],
            check=True,
            capture_output=True,
            env={**os.environ, "SOURCE_DATE_EPOCH": "0"},
        )
    write_checksum(package)
    return package


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    print(build(argv[0]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
