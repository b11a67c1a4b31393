"""Bake a gpu-node image: on a bare build host, from an unpacked full release, install what every
gpu-node shares and leave nothing that belongs to one host. EC2 Image Builder's component runs it
(terraform/modules/image), and so does `lab bake` inside a bare lab container.

  python3 -m tools.image_bake --inventory inventories/aws_ec2.yml [--no-driver]
  (in the release's root, as root)

Steps:
  packages    what a booting host's user data needs before any release (Debian's boto3 and venv;
              the user data then skips its apt run)
  toolchain   the apply venv from the release's wheels (/opt/llm-fleet/venv, kept in the image)
  install     site.yml on this host as a gpu-node with fleet_image_build=true: every role's
              install tasks (packages, the NVIDIA driver built by DKMS for this kernel with its
              headers, Ollama's binary, the services' venvs from the release's wheelhouse, the
              agents) and nothing else - no secret read, no configuration written, no service
              started. Models are not baked: they are large, change on their own schedule and live
              on the data volume, filled from the fleet's S3 mirror.
  generalize  what would make every host booted from the image the same host: the machine-id,
              SSH host keys, Ollama's key, logs, cloud-init's state, the release and caches
  record      /etc/llm-fleet/image.json: the bake hash and inputs of the release baked from (its
              BAKE.json), which a booting host compares with the release it is told to apply
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from tools.host_apply import BAKE_RECORD, HOME, HOST_WHEELS, IMAGE_RECORD, say, toolchain

# Per-host state a booted image must not share with its siblings: removed outright. (apt's
# package lists stay: the roles' apt tasks install from them, refreshing them when stale.)
PER_HOST = (
    "/etc/ssh/ssh_host_*",
    "/var/lib/dbus/machine-id",
    "/var/lib/cloud/*",
    "/var/lib/systemd/random-seed",
    "/var/lib/systemd/credential.secret",
    "/root/.ansible",
    "/root/.cache",
    "/root/.ollama",
    "/usr/share/ollama/.ollama",
    "/var/lib/llm-fleet/*",
    "/var/cache/apt/archives/*.deb",
    "/tmp/*",
    "/var/tmp/*",
    str(HOME / "releases"),
    str(HOME / "downloads"),
    str(HOME / "current"),
    str(HOME / "applied.json"),
)


# What the launch template's user data installs on a bare host before it fetches a release.
PREREQUISITES = ("python3-boto3", "python3-venv")


def prerequisites() -> None:
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for argv in (
        ["apt-get", "update", "-q"],
        ["apt-get", "install", "-y", "-q", "--no-install-recommends", *PREREQUISITES],
    ):
        say("$ " + " ".join(argv))
        subprocess.run(argv, check=True, env=env)  # fmt: skip


def install(release: Path, inventory: str, driver: bool, venv: Path = HOME / "venv") -> None:
    """site.yml's install tasks on this host alone, as a gpu-node of an image build."""
    static = (release / inventory).with_name("image.yml")
    host = {"ansible_connection": "local", "ansible_python_interpreter": "/usr/bin/python3"}
    static.write_text(
        json.dumps({"role_gpu_node": {"hosts": {"image-build": host}}}, indent=2) + "\n"
    )
    wheels = release / HOST_WHEELS
    settings = {
        "fleet_image_build": True,
        "nvidia_cuda_install_without_gpu": driver,
        "open_webui_pip_find_links": str(wheels),
        "chromadb_rag_pip_find_links": str(wheels),
        "open_webui_pip_no_index": True,
        "chromadb_rag_pip_no_index": True,
    }
    argv = [str(venv / "bin" / "ansible-playbook"), "-i", str(static), "site.yml",
            "-e", json.dumps(settings)]  # fmt: skip
    say("$ " + " ".join(argv))
    subprocess.run(argv, cwd=release, check=True)


def generalize(root: Path = Path("/")) -> list[str]:
    """Remove what belongs to one host (PER_HOST), empty the machine-id (systemd makes one at
    the first boot) and every log file; returns what was removed."""
    removed = []
    for pattern in PER_HOST:
        for path in sorted(root.glob(pattern.lstrip("/"))):
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path)
            else:
                path.unlink()
            removed.append(str(path))
    (root / "etc" / "machine-id").write_text("")
    for log in (root / "var" / "log").rglob("*"):
        if not log.is_file() or log.is_symlink():
            continue
        if log.suffix in (".gz", ".journal", ".old"):
            log.unlink()
        else:
            log.write_bytes(b"")
    return removed


def record(release: Path, target: Path = IMAGE_RECORD) -> dict[str, object]:
    """The image's record: the release's bake document, its version and when it was baked."""
    bake = json.loads((release / BAKE_RECORD).read_text())
    document = {
        "bake": bake["hash"],
        "inputs": bake["inputs"],
        "release": (release / "VERSION").read_text().strip(),
        "baked": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(document, indent=2, sort_keys=True) + "\n")
    return document


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python3 -m tools.image_bake", description=__doc__)
    parser.add_argument("--inventory", required=True, help="the release's inventory (a path)")
    parser.add_argument(
        "--no-driver",
        dest="driver",
        action="store_false",
        help="leave the NVIDIA driver out (a lab without NVIDIA's repository)",
    )
    args = parser.parse_args(argv)
    release = Path.cwd()
    if not (release / BAKE_RECORD).is_file():
        raise SystemExit(f"image_bake: {release} is not an unpacked release (no {BAKE_RECORD})")
    started = time.monotonic()
    prerequisites()
    toolchain(release, HOME / "venv")
    install(release, args.inventory, args.driver)
    baked = record(release)
    removed = generalize()
    say(f"baked {baked['bake']} from {baked['release']} in {time.monotonic() - started:.0f} s; "
        f"generalized ({len(removed)} paths removed)")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
