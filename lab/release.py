"""The lab's release: this checkout built as the deploy builds a release (its inventory and
stand-ins added), and published in the lab's S3 and SSM as the deploy publishes it."""

from __future__ import annotations

import subprocess

from fleetlib.bake import BASE
from fleetlib.paths import APPLY_WHEELS, REPO, WHEELHOUSE
from lab.aws import client, releases_bucket, state_prefix
from lab.config import STATE_DIR, image_name
from tools.release import Built, build, publish


def build_lab_release() -> Built:
    """This checkout as a release (version lab-<commit>; uncommitted changes go too)."""
    commit = subprocess.run(
        ["git", "rev-parse", "--short=12", "HEAD"], cwd=REPO, capture_output=True, text=True,
        check=True,
    ).stdout.strip()  # fmt: skip
    apply = sorted(APPLY_WHEELS.glob("*.whl"))
    if not apply:
        raise SystemExit("no apply toolchain: `python -m tools.release build` downloads it once")
    return build(
        f"lab-{commit}",
        STATE_DIR / "release",
        WHEELHOUSE,
        apply,
        carry_limit_mb=4096,
        lab=True,
        bake_base=f"{BASE}+{image_name()}",
    )


def lab_release(endpoint: str) -> Built:
    """This checkout's release, published in the lab's S3 and SSM as the deploy publishes."""
    built = build_lab_release()
    s3, ssm = client("s3", endpoint), client("ssm", endpoint)
    publish(built, releases_bucket(), state_prefix(), s3, ssm)
    return built
