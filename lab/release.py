"""The lab's release: this checkout built as the deploy builds a release (its inventory and
stand-ins added), and published in the lab's S3 and SSM as the deploy publishes it."""

from __future__ import annotations

import hashlib
import json
import subprocess
from pathlib import Path

from fleetlib.bake import BASE
from fleetlib.paths import APPLY_WHEELS, REPO, WHEELHOUSE
from lab.aws import client, releases_bucket, state_prefix
from lab.config import STATE_DIR, image_name
from tools.release import PREFIX, Built, build, publish, tree_files

OUT = STATE_DIR / "release"


def inputs_digest(version: str, wheels: list[Path], bake_base: str) -> str:
    """What a lab release is built from: its version, every file of the tree (name and bytes),
    the wheels (name, size and time) and the base image."""
    digest = hashlib.sha256(f"{version}\0{bake_base}\0".encode())
    for path, name in tree_files(REPO, lab=True):
        data = path.read_bytes()
        digest.update(f"{name}\0{len(data)}\0".encode() + data)
    for wheel in wheels:
        stat = wheel.stat()
        digest.update(f"{wheel}\0{stat.st_size}\0{stat.st_mtime_ns}\0".encode())
    return digest.hexdigest()


def build_lab_release() -> Built:
    """This checkout as a release (version lab-<commit>; uncommitted changes go too). Built
    again only when what it is built from changed: a gigabyte of wheels takes half a minute to
    pack, and the lab's bake, scale-out and drift runs each ask for the same release."""
    commit = subprocess.run(
        ["git", "rev-parse", "--short=12", "HEAD"], cwd=REPO, capture_output=True, text=True,
        check=True,
    ).stdout.strip()  # fmt: skip
    apply = sorted(APPLY_WHEELS.glob("*.whl"))
    if not apply:
        raise SystemExit("no apply toolchain: `python -m tools.release build` downloads it once")
    version, bake_base = f"lab-{commit}", f"{BASE}+{image_name()}"
    inputs = inputs_digest(version, [*sorted(WHEELHOUSE.glob("*.whl")), *apply], bake_base)
    manifest = OUT / f"{PREFIX}-{version}.manifest.json"
    record = OUT / f"{PREFIX}-{version}.inputs"
    if manifest.exists() and record.exists() and record.read_text().strip() == inputs:
        recorded = json.loads(manifest.read_text())
        artifact = OUT / recorded["artifact"]
        if artifact.exists():
            return Built(artifact, recorded["sha256"], manifest)
    record.unlink(missing_ok=True)
    built = build(
        version, OUT, WHEELHOUSE, apply, carry_limit_mb=4096, lab=True, bake_base=bake_base
    )
    record.write_text(inputs + "\n")
    return built


def lab_release(endpoint: str) -> Built:
    """This checkout's release, published in the lab's S3 and SSM as the deploy publishes."""
    built = build_lab_release()
    s3, ssm = client("s3", endpoint), client("ssm", endpoint)
    publish(built, releases_bucket(), state_prefix(), s3, ssm)
    return built
