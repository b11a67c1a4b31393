"""`lab bake`: the gpu-node image that the lab's scale-out starts from, baked as EC2 Image Builder
bakes the fleet's AMI (terraform/modules/image): the lab's full release unpacked into a bare
container booted from the base image, tools/image_bake.py run in it (site.yml's install tasks,
marked fleet_image_build, then the container generalized), the container committed. The image's
tag is the release's bake hash, so it is baked again only when that changes (like the lab's other
cached images). The NVIDIA driver is left out (--no-driver): the lab has neither NVIDIA's
repository nor a GPU."""

from __future__ import annotations

import json
import subprocess
import time

from lab.config import GPU_IMAGE_REPO, STATE_DIR, podman_env
from lab.image import ensure_image
from lab.podman import image_exists, podman, wait_for_systemd
from tools.release import Built

BUILDER = "llm-fleet-gpu-image-build"
# Where the release is unpacked in the build container (tools/image_bake.py removes it).
UNPACKED = "/opt/llm-fleet/releases/bake"


def bake_of(built: Built) -> str:
    """The bake hash a release records."""
    bake: str = json.loads(built.manifest.read_text())["bake"]
    return bake


def baked_image_name(bake: str) -> str:
    return f"{GPU_IMAGE_REPO}:{bake[:16]}"


def ensure_baked_image(built: Built, rebuild: bool = False) -> tuple[str, float | None]:
    """The gpu-node image for this release's bake hash, baked when missing (or asked); returns
    its name and the bake's seconds (None when it was cached). The bake's output is in
    STATE_DIR/bake.log."""
    name = baked_image_name(bake_of(built))
    if image_exists(name) and not rebuild:
        return name, None
    base, _ = ensure_image()
    started = time.monotonic()
    podman("rm", "--force", "--time", "0", BUILDER, check=False)
    STATE_DIR.mkdir(parents=True, exist_ok=True)
    log = STATE_DIR / "bake.log"
    try:
        podman("run", "--detach", f"--name={BUILDER}", "--systemd=always", base, "/sbin/init")
        wait_for_systemd(BUILDER)
        podman("cp", str(built.artifact), f"{BUILDER}:/tmp/release.tar.gz")
        inventory = "inventories/lab/aws_ec2.yml"
        script = (
            f"set -eu; mkdir -p {UNPACKED}; tar -xzf /tmp/release.tar.gz -C {UNPACKED}; "
            f"rm /tmp/release.tar.gz; cd {UNPACKED}/llm-fleet; "
            f"python3 -m tools.image_bake --inventory {inventory} --no-driver"
        )
        with log.open("w") as out:
            baked = subprocess.run(
                ["podman", "exec", BUILDER, "/bin/sh", "-c", script],
                stdout=out, stderr=subprocess.STDOUT, env=podman_env(), check=False,
            )  # fmt: skip
        if baked.returncode != 0:
            raise SystemExit(f"the gpu-node image did not bake (exit {baked.returncode}): {log}")
        # Committed as it runs (paused meanwhile): a shutdown would write logs into it.
        podman("commit", "--quiet", "--change", 'CMD ["/sbin/init"]', BUILDER, name)
    finally:
        podman("rm", "--force", "--time", "0", BUILDER, check=False)
    return name, time.monotonic() - started
