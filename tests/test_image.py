"""The deploy's image step (tools/image.py): a new bake hash bakes an image and refreshes the
group onto it; the same hash changes nothing; a failed build records nothing and refreshes
nothing. SSM is moto's (the lab's AWS API); moto has no Image Builder and does not start instance
refreshes, so those calls go to botocore's Stubber, which checks each request against the
service's API model."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from lab.config import REGION
from lab.ec2 import DUMMY_CREDENTIALS, MotoServer
from tools.image import REFRESH_PREFERENCES, bake_parameter, ensure

PREFIX = "llm-fleet/test"
PIPELINE = "arn:aws:imagebuilder:us-east-1:123456789012:image-pipeline/llm-fleet-test-gpu-node"
IMAGE = "arn:aws:imagebuilder:us-east-1:123456789012:image/llm-fleet-test-gpu-node/1.0.0/1"
ASG = "llm-fleet-test-gpu-node-2026"
WANT = "b" * 64


@pytest.fixture
def ssm(moto_server: MotoServer) -> Any:
    options = {"region_name": REGION, "endpoint_url": moto_server.endpoint, **DUMMY_CREDENTIALS}
    return boto3.client("ssm", **options)


def stubbed(service: str) -> tuple[Any, Stubber]:
    client = boto3.client(service, region_name=REGION, **DUMMY_CREDENTIALS)
    stubber = Stubber(client)
    stubber.activate()
    return client, stubber


def image_states(stubber: Stubber, *statuses: str) -> None:
    stubber.add_response(
        "start_image_pipeline_execution",
        {"imageBuildVersionArn": IMAGE, "requestId": "r", "clientToken": "t"},
        {"imagePipelineArn": PIPELINE},
    )
    for status in statuses:
        state = {"status": status, "reason": "component Bake failed"}
        stubber.add_response(
            "get_image", {"image": {"state": state}}, {"imageBuildVersionArn": IMAGE}
        )


def test_a_new_bake_hash_bakes_then_refreshes_and_the_same_one_does_nothing(ssm: Any) -> None:
    imagebuilder, builds = stubbed("imagebuilder")
    autoscaling, refreshes = stubbed("autoscaling")
    image_states(builds, "BUILDING", "TESTING", "AVAILABLE")
    refreshes.add_response(
        "start_instance_refresh",
        {"InstanceRefreshId": "refresh-1"},
        {"AutoScalingGroupName": ASG, "Strategy": "Rolling", "Preferences": REFRESH_PREFERENCES},
    )
    waits: list[float] = []
    done = ensure(PREFIX, PIPELINE, ASG, WANT, (ssm, imagebuilder, autoscaling), waits.append)
    assert done == "refresh-1" and len(waits) == 2
    builds.assert_no_pending_responses()
    refreshes.assert_no_pending_responses()
    assert ssm.get_parameter(Name=bake_parameter(PREFIX))["Parameter"]["Value"] == WANT
    # Not launch-before-terminate's skip: the template is unchanged, every host must go.
    assert REFRESH_PREFERENCES["SkipMatching"] is False
    assert REFRESH_PREFERENCES["MinHealthyPercentage"] == 100
    # The same hash again: no build, no refresh (the stubs would refuse any call).
    assert ensure(PREFIX, PIPELINE, ASG, WANT, (ssm, imagebuilder, autoscaling)) == "current"


def test_a_failed_build_records_nothing_and_refreshes_nothing(ssm: Any) -> None:
    imagebuilder, builds = stubbed("imagebuilder")
    autoscaling, refreshes = stubbed("autoscaling")
    image_states(builds, "BUILDING", "FAILED")
    prefix = "llm-fleet/failing"  # the AWS API is shared by the session's tests
    with pytest.raises(SystemExit, match="FAILED: component Bake failed"):
        ensure(prefix, PIPELINE, ASG, WANT, (ssm, imagebuilder, autoscaling), lambda _: None)
    refreshes.assert_no_pending_responses()
    with pytest.raises(ssm.exceptions.ParameterNotFound):
        ssm.get_parameter(Name=bake_parameter(prefix))
