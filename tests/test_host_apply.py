"""A host configuring itself (tools/host_apply.py): it completes its own lifecycle action only,
and abandons - with the reason on its console - when the release does not match its checksum or
does not converge. S3 and SSM are moto's (the lab's AWS API); moto 5.2.5 does not implement
CompleteLifecycleAction (it answers 500), so the Auto Scaling calls go to botocore's Stubber,
which validates each request against the service's API model: which part is which, said here.
The successful converge is the whole-stack scenario's (a lab host applying a real release)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from lab.config import REGION
from lab.ec2 import DUMMY_CREDENTIALS, MotoServer
from tools.host_apply import HOST_WHEELS, Identity, complete, in_group, main, plan
from tools.release import build, publish

HOOK = "llm-fleet-prod-gpu-node-configure"
GROUP = "llm-fleet-test-gpu-node-2026"
# As IMDS gives it: the fleet's tags, not the aws: ones (the group comes from the API).
ME = Identity("i-0123456789abcdef0", REGION, {"Project": "llm-fleet", "Environment": "test"})


def autoscaling_expecting(result: str) -> tuple[Any, Stubber]:
    client = boto3.client("autoscaling", region_name=REGION, **DUMMY_CREDENTIALS)
    stubber = Stubber(client)
    instance = {
        "InstanceId": ME.instance_id,
        "AutoScalingGroupName": GROUP,
        "AvailabilityZone": "us-east-1a",
        "LifecycleState": "Pending:Wait",
        "HealthStatus": "HEALTHY",
        "ProtectedFromScaleIn": False,
    }
    stubber.add_response(
        "describe_auto_scaling_instances",
        {"AutoScalingInstances": [instance]},
        {"InstanceIds": [ME.instance_id]},
    )
    stubber.add_response(
        "complete_lifecycle_action",
        {},
        {
            "LifecycleHookName": HOOK,
            "AutoScalingGroupName": GROUP,
            "LifecycleActionResult": result,
            "InstanceId": ME.instance_id,
        },
    )
    stubber.activate()
    return client, stubber


def test_a_host_completes_its_own_action_in_its_own_group() -> None:
    client, stubber = autoscaling_expecting("CONTINUE")
    complete(client, in_group(ME, client), HOOK, "CONTINUE")
    stubber.assert_no_pending_responses()
    with pytest.raises(ValueError):
        complete(client, ME, HOOK, "PROCEED")


@pytest.fixture
def aws(moto_server: MotoServer) -> tuple[Any, Any]:
    options = {"region_name": REGION, "endpoint_url": moto_server.endpoint, **DUMMY_CREDENTIALS}
    s3, ssm = boto3.client("s3", **options), boto3.client("ssm", **options)
    s3.create_bucket(Bucket="fleet-releases")
    return s3, ssm


def run_main(
    tmp_path: Path,
    aws: tuple[Any, Any],
    result: str,
    capsys: pytest.CaptureFixture[str],
    who: Identity = ME,
) -> tuple[int, dict[str, Any], str]:
    client, stubber = autoscaling_expecting(result)
    home = tmp_path / "home"
    code = main(
        HOOK, home / "apply.log", lambda region: (*aws, client), who=who, home=home,
        release_wait_s=0,
    )  # fmt: skip
    stubber.assert_no_pending_responses()
    out = capsys.readouterr().out
    return code, json.loads(out.strip().splitlines()[-1]), out


def test_a_release_that_does_not_match_its_checksum_is_abandoned(
    tmp_path: Path,
    wheels: tuple[Path, list[Path]],
    aws: tuple[Any, Any],
    capsys: pytest.CaptureFixture[str],
) -> None:
    hosts, apply = wheels
    s3, ssm = aws
    publish(build("3.0.0", tmp_path / "out", hosts, apply, 1), "fleet-releases", ME.prefix, s3, ssm)
    s3.put_object(Bucket="fleet-releases", Key="releases/3.0.0/llm-fleet-3.0.0.tar.gz", Body=b"x")
    code, result, out = run_main(tmp_path, aws, "ABANDON", capsys)
    assert code == 1 and result["result"] == "ABANDON" and "expected" in result["reason"]
    assert "llm-fleet-apply: failed: SystemExit: release: llm-fleet-3.0.0.tar.gz" in out
    assert "failed: SystemExit" in (tmp_path / "home" / "apply.log").read_text()
    assert not (tmp_path / "home" / "releases").exists()  # nothing unpacked


def test_a_release_that_does_not_converge_is_abandoned_with_the_reason(
    tmp_path: Path,
    wheels: tuple[Path, list[Path]],
    aws: tuple[Any, Any],
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Its toolchain wheels are not Ansible's: installed offline, then the converge fails, and
    says so."""
    hosts, apply = wheels
    s3, ssm = aws
    publish(build("4.0.0", tmp_path / "out", hosts, apply, 1), "fleet-releases", ME.prefix, s3, ssm)
    code, result, _ = run_main(tmp_path, aws, "ABANDON", capsys)
    assert code == 1 and result["version"] == "4.0.0"
    assert set(result["steps"]) == {"identity", "release", "fetch", "toolchain", "converge"}
    assert "CalledProcessError" in result["reason"] and "self_inventory" in result["reason"]
    assert (tmp_path / "home" / "current" / "VERSION").read_text() == "4.0.0\n"


def test_a_host_launched_before_any_release_waits_then_abandons_saying_why(
    tmp_path: Path, aws: tuple[Any, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    """A fleet's first deploy launches hosts before it publishes a release: they wait for the
    parameter (bounded: 0 s here), then abandon with the parameter named."""
    first = Identity(ME.instance_id, REGION, {**ME.tags, "Environment": "first"})
    code, result, out = run_main(tmp_path, aws, "ABANDON", capsys, first)
    assert code == 1 and "version" not in result
    assert "no /llm-fleet/first/release after 0 s" in result["reason"]
    assert "has the deploy published one?" in out


def test_a_release_published_during_the_converge_is_applied_too(
    tmp_path: Path,
    wheels: tuple[Path, list[Path]],
    aws: tuple[Any, Any],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The deploy publishes 6.0.0 while the host converges 5.0.0: the host converges 6.0.0 too
    before it completes its action. The converge itself is replaced by one that records what it
    was given and publishes the newer release the first time (a real converge is the
    whole-stack scenario's); fetch, checksum, unpack and the offline toolchain are real."""
    hosts, apply = wheels
    s3, ssm = aws
    newer = build("6.0.0", tmp_path / "out6", hosts, apply, 1)
    first = build("5.0.0", tmp_path / "out5", hosts, apply, 1)
    publish(first, "fleet-releases", ME.prefix, s3, ssm)
    converged: list[str] = []

    def converge(release: Path, who: Identity, inventory: str, venv: Path) -> None:
        converged.append((release / "VERSION").read_text().strip())
        if len(converged) == 1:
            publish(newer, "fleet-releases", ME.prefix, s3, ssm)

    monkeypatch.setattr("tools.host_apply.apply", converge)
    code, result, out = run_main(tmp_path, aws, "CONTINUE", capsys)
    assert code == 0 and converged == ["5.0.0", "6.0.0"]
    assert result["version"] == "6.0.0" and "converge (round 2)" in result["steps"]
    assert "release 6.0.0 was published while 5.0.0 converged" in out
    applied = json.loads((tmp_path / "home" / "applied.json").read_text())
    assert applied["version"] == "6.0.0"
    # One release is kept on the root disk: the applied one, unpacked.
    assert [r.name for r in (tmp_path / "home" / "releases").iterdir()] == ["6.0.0"]
    assert not list((tmp_path / "home" / "downloads").iterdir())


def recording_converge(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """The converge replaced by one that records the release it was given (a real converge from
    a baked image is the whole-stack scenario's scaled-out host)."""
    given: list[Path] = []

    def converge(release: Path, who: Identity, inventory: str, venv: Path) -> None:
        given.append(release)

    monkeypatch.setattr("tools.host_apply.apply", converge)
    return given


@pytest.mark.parametrize("matching", [True, False])
def test_a_baked_host_fetches_the_thin_release_and_a_mismatched_one_the_full_saying_why(
    tmp_path: Path,
    wheels: tuple[Path, list[Path]],
    aws: tuple[Any, Any],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    matching: bool,
) -> None:
    hosts, apply = wheels
    s3, ssm = aws
    built = build("7.0.0", tmp_path / "out", hosts, apply, 1)
    record = publish(built, "fleet-releases", ME.prefix, s3, ssm)
    image = tmp_path / "image.json"
    image.write_text(json.dumps({"bake": record["bake"] if matching else "0" * 64}))
    venv = tmp_path / "home" / "venv" / "bin"
    venv.mkdir(parents=True)
    (venv / "ansible-playbook").write_text("")  # the toolchain the image holds
    given = recording_converge(monkeypatch)
    client, stubber = autoscaling_expecting("CONTINUE")
    home = tmp_path / "home"
    code = main(
        HOOK, home / "apply.log", lambda region: (*aws, client), who=ME, home=home,
        release_wait_s=0, image_record=image,
    )  # fmt: skip
    stubber.assert_no_pending_responses()
    out = capsys.readouterr().out
    result = json.loads(out.strip().splitlines()[-1])
    assert code == 0 and len(given) == 1
    carried = {w.name for w in (given[0] / HOST_WHEELS).glob("*.whl")}
    applied = json.loads((home / "applied.json").read_text())
    assert applied["image"] == result["image"]
    if matching:
        assert result["image"]["release"] == "thin"
        assert carried == set()  # the image holds every third-party wheel
        assert "toolchain" not in result["steps"]
        assert "this host's image matches the release" in out
    else:
        assert result["image"]["release"] == "full"
        assert carried == {w.name for w in hosts.glob("*.whl")}  # beside ones fetched too
        assert "toolchain" in result["steps"]
        log = (home / "apply.log").read_text()
        assert "(bake 000000000000) does not match the release" in log
        assert "the full release, converged the slow way" in log


def test_an_unbaked_host_fetches_the_full_release() -> None:
    chosen = plan({"bake": "a" * 64, "thin_artifact": "s3://b/k"}, "")
    assert not chosen.thin and "not baked" in chosen.why
    assert plan({"bake": "a" * 64, "thin_artifact": "s3://b/k"}, "a" * 64).thin
    # A release without a thin artifact (an older one) is fetched whole.
    assert not plan({"bake": "a" * 64}, "a" * 64).thin
