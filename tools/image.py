"""The deploy's image step: bake a new gpu-node image when the release's bake hash is new, then
move the fleet onto it.

  python -m tools.image ensure --pipeline-arn ARN --prefix <Project>/<Environment> \\
      --asg NAME --region REGION

Run after the release is published (the image bakes the published release). It compares this
tree's bake hash (fleetlib/bake.py) with the one recorded for the current image in
/<prefix>/image/gpu-node/bake:
  equal      nothing to do: the hosts launched from the current image fetch the thin release
  different  Image Builder's pipeline runs (terraform/modules/image: its distribution writes the
             new AMI's id to the parameter the launch template resolves), the hash is recorded,
             and an instance refresh replaces the hosts launch-before-terminate (100 % healthy
             minimum, answers drained by the target group) - the launch template itself does not
             change, so the refresh is started here, not by terraform, and does not skip hosts
             whose template version matches.
A failed or cancelled build changes nothing: the hosts keep the image they have (a host whose
image does not match the release converges from the full release, the slow way).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable, Sequence
from typing import Any

from tools.release import bake_document

# An image build (the driver's DKMS build, every venv, the tests) takes tens of minutes.
BUILD_LIMIT_S = 2 * 3600
POLL_S = 30
REFRESH_PREFERENCES = {
    "MinHealthyPercentage": 100,
    "MaxHealthyPercentage": 200,
    "InstanceWarmup": 60,
    "SkipMatching": False,
    "AutoRollback": True,
}


def bake_parameter(prefix: str) -> str:
    """Where the bake hash of the current gpu-node image is recorded."""
    return f"/{prefix.strip('/')}/image/gpu-node/bake"


def current_bake(prefix: str, ssm: Any) -> str:
    try:
        value: str = ssm.get_parameter(Name=bake_parameter(prefix))["Parameter"]["Value"]
    except ssm.exceptions.ParameterNotFound:
        return ""
    return value


def build_image(
    pipeline: str,
    imagebuilder: Any,
    limit_s: float = BUILD_LIMIT_S,
    poll_s: float = POLL_S,
    sleep: Callable[[float], None] = time.sleep,
) -> str:
    """Run the pipeline once; returns the new image's ARN when it is available (SystemExit with
    the reason when it fails, is cancelled or outlasts limit_s)."""
    arn: str = imagebuilder.start_image_pipeline_execution(imagePipelineArn=pipeline)[
        "imageBuildVersionArn"
    ]
    print(f"image build started: {arn}", flush=True)
    waited = 0.0
    while True:
        state = imagebuilder.get_image(imageBuildVersionArn=arn)["image"]["state"]
        status = state["status"]
        if status == "AVAILABLE":
            return arn
        if status in ("FAILED", "CANCELLED", "DEPRECATED", "DELETED"):
            reason = state.get("reason", "no reason given")
            raise SystemExit(f"image build {arn} {status}: {reason}")
        if waited >= limit_s:
            raise SystemExit(f"image build {arn} still {status} after {limit_s:.0f} s")
        sleep(poll_s)
        waited += poll_s


def ensure(
    prefix: str, pipeline: str, asg: str, want: str, clients: tuple[Any, Any, Any],
    sleep: Callable[[float], None] = time.sleep,
) -> str:  # fmt: skip
    """Bake and refresh when want differs from the current image's bake hash; returns what was
    done ("current" or the refresh's id)."""
    ssm, imagebuilder, autoscaling = clients
    have = current_bake(prefix, ssm)
    if have == want:
        print(f"gpu-node image current (bake {want[:12]}): nothing to bake")
        return "current"
    print(f"gpu-node image bake {have[:12] or 'none'} -> {want[:12]}: baking")
    arn = build_image(pipeline, imagebuilder, sleep=sleep)
    ssm.put_parameter(Name=bake_parameter(prefix), Value=want, Type="String", Overwrite=True)
    refresh: str = autoscaling.start_instance_refresh(
        AutoScalingGroupName=asg, Strategy="Rolling", Preferences=REFRESH_PREFERENCES
    )["InstanceRefreshId"]
    print(f"image {arn} available; instance refresh {refresh} of {asg} started")
    return refresh


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.image", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("ensure", help="bake and refresh when the bake hash is new")
    run.add_argument("--pipeline-arn", required=True, help="terraform output image_pipeline_arn")
    run.add_argument("--prefix", required=True, help="terraform output state_prefix")
    run.add_argument("--asg", required=True, help="terraform output autoscaling_group_name")
    run.add_argument("--region", required=True)
    args = parser.parse_args(argv)
    import boto3

    clients = tuple(
        boto3.client(name, region_name=args.region)
        for name in ("ssm", "imagebuilder", "autoscaling")
    )
    ensure(args.prefix, args.pipeline_arn, args.asg, bake_document()["hash"], clients)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
