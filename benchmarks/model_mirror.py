"""Model mirror benchmark: how long a new host takes to get its models with and without the
fleet's S3 mirror, on this machine's parts. Prints figures (and writes
artifacts/bench/model_mirror.json); asserts nothing.

    .venv/bin/python -m benchmarks.model_mirror [--mib 256] [--models 3]

Without the mirror a host pulls from Ollama's registry, which the lab cannot reach: the Ollama
TEST STAND-IN's pull writes each model layer locally (--mib MiB, generated, not downloaded), so
that figure is a floor, not a registry's. With the mirror: the deploy's push (from a registry
served over HTTP on loopback, the registry API's paths) into moto's S3, then a host's fetch from
it (each blob checked against its digest). The estimate for a g5 uses published bandwidths
(printed with the figures) and the default models' sizes.
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import boto3

from fleetlib.paths import REPO
from lab.config import REGION
from lab.ec2 import DUMMY_CREDENTIALS, MotoServer, free_port
from tests.ollama_models import StandIn, mirror, registry_tree, serving

OUT = REPO / "artifacts" / "bench"
# The default models (roles/ollama/defaults/main.yml) as Ollama's library lists them, GB.
DEFAULT_MODELS_GB = {"deepseek-r1:1.5b": 1.1, "llama3.2:1b": 1.3, "qwen2.5:0.5b": 0.4}
# Published or configured bandwidths, MB/s: a single Ollama pull from its registry (CDN-served;
# commonly reported 30-120 MB/s, 60 taken); S3 to an EC2 instance in its region with parallel
# ranged GETs (boto3's transfer manager: several hundred MB/s on a 10 Gbit/s g5.xlarge); the
# data volume's gp3 write throughput as terraform provisions it (250 MB/s) caps both.
REGISTRY_MBPS, S3_MBPS, VOLUME_MBPS = 60.0, 600.0, 250.0


def timed(label: str, work: Any) -> tuple[float, Any]:
    started = time.monotonic()
    result = work()
    took = time.monotonic() - started
    print(f"  {label:<52} {took:8.2f} s", flush=True)
    return took, result


def pull_with_standin(folder: Path, names: list[str], mib: int) -> None:
    standin = StandIn(folder, mib * 1024 * 1024)
    try:
        standin.pull(names)
    finally:
        standin.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--mib", type=int, default=256, help="MiB per model layer")
    parser.add_argument("--models", type=int, default=3)
    args = parser.parse_args()
    names = [f"bench/model-{i}:v1" for i in range(args.models)]
    total_mb = args.models * args.mib * 1.048576
    figures: dict[str, Any] = {"models": args.models, "mib_per_model": args.mib}
    print(f"{args.models} models x {args.mib} MiB = {total_mb:.0f} MB")
    with tempfile.TemporaryDirectory() as scratch:
        work = Path(scratch)
        moto = MotoServer(port=free_port(), log=work / "moto.log")
        moto.start()
        try:
            s3 = boto3.client(
                "s3", region_name=REGION, endpoint_url=moto.endpoint, **DUMMY_CREDENTIALS
            )
            s3.create_bucket(Bucket="bench-releases")
            url = "s3://bench-releases/models"
            figures["without mirror: stand-in pull (local, a floor)"], _ = timed(
                "without mirror: stand-in pull (generated locally)",
                lambda: pull_with_standin(work / "pulled", names, args.mib),
            )
            registry_tree(work / "pulled", names, work / "registry")
            with serving(work / "registry") as registry:
                figures["deploy: push from the registry API into S3"], _ = timed(
                    "deploy: push from a loopback registry into S3",
                    lambda: mirror.push(names, mirror.Source(registry=registry), s3, url),
                )
                figures["deploy: push again (nothing new)"], _ = timed(
                    "deploy: push again (blobs already there)",
                    lambda: mirror.push(names, mirror.Source(registry=registry), s3, url),
                )
            took, report = timed(
                "with mirror: a new host's fetch from S3 (checked)",
                lambda: mirror.fetch(names, s3, url, work / "host"),
            )
            figures["with mirror: fetch"] = took
            figures["fetch MB/s"] = round(report["bytes"] / 1e6 / took, 1)
            rate = figures["fetch MB/s"]
            print(f"  {'fetch throughput (moto on loopback)':<52} {rate:8.1f} MB/s")
        finally:
            moto.stop()
            shutil.rmtree(work / "pulled", ignore_errors=True)
    default_gb = sum(DEFAULT_MODELS_GB.values())
    registry_s = default_gb * 1000 / min(REGISTRY_MBPS, VOLUME_MBPS)
    s3_s = default_gb * 1000 / min(S3_MBPS, VOLUME_MBPS)
    figures["g5 estimate: default models GB"] = default_gb
    figures["g5 estimate: registry s"] = round(registry_s)
    figures["g5 estimate: S3 mirror s"] = round(s3_s)
    print(
        f"estimate on a g5 for the default models ({default_gb:.1f} GB): registry at "
        f"{REGISTRY_MBPS:.0f} MB/s ~{registry_s:.0f} s; S3 mirror at min(S3 {S3_MBPS:.0f}, "
        f"gp3 {VOLUME_MBPS:.0f}) MB/s ~{s3_s:.0f} s ({registry_s / s3_s:.1f}x)"
    )
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "model_mirror.json").write_text(json.dumps(figures, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
