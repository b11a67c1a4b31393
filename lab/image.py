"""Build the lab's Debian 12 base image once (debootstrap from Debian's mirror) and cache it."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from lab.config import (
    BASE_PACKAGES,
    DEBIAN_MIRROR,
    DEBIAN_SUITE,
    LATEST_IMAGE,
    SERVICES_PACKAGES,
    image_name,
    podman_env,
    services_image_name,
)
from lab.podman import image_exists, podman


def ensure_image(rebuild: bool = False) -> tuple[str, float | None]:
    """Return the image name and the build time in seconds (None when it was cached).

    The image is also tagged `:latest`, the name Molecule scenarios use."""
    name = image_name()
    if image_exists(name) and not rebuild:
        podman("tag", name, LATEST_IMAGE)
        return name, None
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="llm-fleet-rootfs-", dir="/var/tmp") as tmp:
        rootfs = Path(tmp) / "rootfs"
        subprocess.run(
            [
                "debootstrap",
                "--variant=minbase",
                f"--include={','.join(BASE_PACKAGES)}",
                DEBIAN_SUITE,
                str(rootfs),
                DEBIAN_MIRROR,
            ],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        _prepare_rootfs(rootfs)
        tar = subprocess.Popen(["tar", "-C", str(rootfs), "-c", "."], stdout=subprocess.PIPE)
        subprocess.run(
            ["podman", "import", "--quiet", "--change", 'CMD ["/sbin/init"]', "-", name],
            stdin=tar.stdout,
            env=podman_env(),
            check=True,
            stdout=subprocess.DEVNULL,
        )
        if tar.wait() != 0:
            raise RuntimeError("tar of the base rootfs failed")
    podman("tag", name, LATEST_IMAGE)
    return name, time.monotonic() - started


def _prepare_rootfs(rootfs: Path) -> None:
    """Make the rootfs boot cleanly as a container: a fresh machine-id per container, apt cache
    trimmed, and no getty on a console that does not exist."""
    (rootfs / "etc" / "machine-id").write_text("")
    shutil.rmtree(rootfs / "var" / "cache" / "apt" / "archives", ignore_errors=True)
    (rootfs / "var" / "cache" / "apt" / "archives" / "partial").mkdir(parents=True)
    getty = rootfs / "etc" / "systemd" / "system" / "getty.target.wants"
    shutil.rmtree(getty, ignore_errors=True)


def ensure_services_image(rebuild: bool = False) -> tuple[str, float | None]:
    """The service hosts' image (the base image with SERVICES_PACKAGES installed), built once
    and cached like the base image: the lab's state host and load balancer start from it without
    an apt run. Returns its name and the build time in seconds (None when it was cached)."""
    name = services_image_name()
    if image_exists(name) and not rebuild:
        return name, None
    base, _ = ensure_image()
    started = time.monotonic()
    builder = "llm-fleet-services-image-build"
    podman("rm", "--force", "--time", "0", builder, check=False)
    script = (
        "set -eu; export DEBIAN_FRONTEND=noninteractive; apt-get update -qq; "
        f"apt-get install -y -qq --no-install-recommends {' '.join(SERVICES_PACKAGES)} "
        ">/dev/null; apt-get clean; rm -rf /var/lib/apt/lists/*"
    )
    try:
        podman("run", f"--name={builder}", base, "/bin/sh", "-c", script)
        podman("commit", "--quiet", "--change", 'CMD ["/sbin/init"]', builder, name)
    finally:
        podman("rm", "--force", "--time", "0", builder, check=False)
    return name, time.monotonic() - started
