"""Download the hosts' wheels (requirements-hosts.txt) into fleetlib.paths.WHEELHOUSE from inside
a lab host image, so that pip resolves them for the hosts' Python (Debian 12's 3.11.2), not for
the controller's. The machine's own wheel folder (/opt/wheels, the CPU build of torch) is
offered to pip as well when it exists."""

from __future__ import annotations

import time
from pathlib import Path

from fleetlib.paths import REPO, WHEELHOUSE
from lab.config import image_name
from lab.podman import podman

REQUIREMENTS = REPO / "requirements-hosts.txt"
LOCAL_WHEELS = Path("/opt/wheels")
HOST_CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
SCRIPT = """set -eu
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq && apt-get install -y -qq python3-venv >/dev/null
python3 -m venv /tmp/pip && /tmp/pip/bin/pip install -q --upgrade pip
/tmp/pip/bin/pip download -q --disable-pip-version-check -d /wheelhouse \
    -r /requirements.txt $FIND_LINKS
"""


def download() -> float:
    started = time.monotonic()
    WHEELHOUSE.mkdir(parents=True, exist_ok=True)
    mounts = ["--volume", f"{WHEELHOUSE}:/wheelhouse", "--volume",
              f"{REQUIREMENTS}:/requirements.txt:ro"]  # fmt: skip
    find_links = ""
    if HOST_CA_BUNDLE.is_file():  # this machine's CA bundle (a TLS-inspecting mirror, say)
        mounts += ["--volume", f"{HOST_CA_BUNDLE}:/etc/ssl/host-ca.crt:ro",
                   "--env=PIP_CERT=/etc/ssl/host-ca.crt"]  # fmt: skip
    if LOCAL_WHEELS.is_dir():
        mounts += ["--volume", f"{LOCAL_WHEELS}:/opt/wheels:ro"]
        find_links = "--find-links /opt/wheels"
    podman("run", "--rm", *mounts, f"--env=FIND_LINKS={find_links}", image_name(),
           "/bin/sh", "-c", SCRIPT)  # fmt: skip
    return time.monotonic() - started
