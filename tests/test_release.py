"""The release artifact built from this repository: what a host needs to configure itself, no
tests or caches, the same bytes from the same inputs, refused when its checksum does not match.
Real wheels from the wheelhouse stand for the hosts' and the toolchain's (a subset, for time)."""

from __future__ import annotations

import json
import tarfile
from pathlib import Path

import boto3
import pytest

from lab.config import REGION
from lab.ec2 import DUMMY_CREDENTIALS, MotoServer
from tools.host_apply import BAKE_RECORD, HOST_WHEELS, download, fetch_beside, published, unpack
from tools.release import bake_document, build, publish, verify


def test_the_release_holds_what_a_host_applies_and_nothing_else(
    tmp_path: Path, wheels: tuple[Path, list[Path]]
) -> None:
    hosts, apply = wheels
    built = build("1.2.3", tmp_path / "out", hosts, apply, carry_limit_mb=1)
    with tarfile.open(built.artifact) as archive:
        names = archive.getnames()
        version = archive.extractfile("llm-fleet/VERSION")
        assert version is not None and version.read() == b"1.2.3\n"
    needed = ["site.yml", "ansible.cfg", "playbooks/serving.yml", "inventories/aws_ec2.yml"]
    needed += ["roles/open_webui/tasks/main.yml", "plugins/callback/drift_report.py"]
    needed += ["tools/self_inventory.py"]
    for name in needed:
        assert f"llm-fleet/{name}" in names, name
    assert not [n for n in names if "/molecule/" in n or "__pycache__" in n or n.endswith(".pyc")]
    assert f"llm-fleet/wheels/apply/{apply[0].name}" in names
    hosts_dir = f"llm-fleet/{HOST_WHEELS}/"
    carried = sorted(n.rsplit("/", 1)[1] for n in names if n.startswith(hosts_dir))
    assert carried == sorted(w.name for w in hosts.glob("*.whl") if not w.name.startswith("big"))
    # The wheel over the carry limit sits beside the artifact, named with its digest.
    manifest = json.loads(built.manifest.read_text())
    assert manifest["sha256"] == built.sha256 and manifest["python"] == "3.11"
    assert [b["name"] for b in manifest["beside"]] == ["big_cuda_build-1.0-py3-none-any.whl"]
    assert (tmp_path / "out" / "beside" / "big_cuda_build-1.0-py3-none-any.whl").exists()
    verify(built.artifact, (tmp_path / "out" / "llm-fleet-1.2.3.tar.gz.sha256").read_text())


def test_the_same_tree_gives_the_same_bytes(
    tmp_path: Path, wheels: tuple[Path, list[Path]]
) -> None:
    hosts, apply = wheels
    first = build("7", tmp_path / "a", hosts, apply, carry_limit_mb=1)
    second = build("7", tmp_path / "b", hosts, apply, carry_limit_mb=1)
    assert first.sha256 == second.sha256


def test_a_changed_artifact_and_a_bad_version_are_refused(
    tmp_path: Path, wheels: tuple[Path, list[Path]]
) -> None:
    hosts, apply = wheels
    built = build("8", tmp_path / "out", hosts, apply, carry_limit_mb=1)
    with built.artifact.open("ab") as handle:
        handle.write(b"tampered")
    with pytest.raises(SystemExit, match="expected"):
        verify(built.artifact, built.sha256)
    with pytest.raises(SystemExit, match="not a plain name"):
        build("../../etc", tmp_path / "out", hosts, apply, carry_limit_mb=1)


def test_a_published_release_is_what_a_host_fetches_and_a_changed_one_is_refused(
    tmp_path: Path, wheels: tuple[Path, list[Path]], moto_server: MotoServer
) -> None:
    """Against moto's S3 and SSM (the lab's AWS API), as a host does it with its instance role."""
    hosts, apply = wheels
    built = build("2.0.0", tmp_path / "out", hosts, apply, carry_limit_mb=1)
    options = {"region_name": REGION, "endpoint_url": moto_server.endpoint, **DUMMY_CREDENTIALS}
    s3, ssm = boto3.client("s3", **options), boto3.client("ssm", **options)
    s3.create_bucket(Bucket="fleet-releases")
    record = publish(built, "fleet-releases", "llm-fleet/test", s3, ssm)
    assert record["version"] == "2.0.0" and record["sha256"] == built.sha256
    keys = {o["Key"] for o in s3.list_objects_v2(Bucket="fleet-releases")["Contents"]}
    assert "releases/2.0.0/big_cuda_build-1.0-py3-none-any.whl" in keys
    assert "releases/2.0.0/llm-fleet-2.0.0.tar.gz.sha256" in keys
    assert (
        record["thin_artifact"] == "s3://fleet-releases/releases/2.0.0/llm-fleet-2.0.0-thin.tar.gz"
    )
    assert record["bake"] == json.loads(built.manifest.read_text())["bake"]
    assert published("llm-fleet/test", ssm) == record
    artifact = download(record, tmp_path / "host", s3)
    assert artifact.read_bytes() == built.artifact.read_bytes()
    # The wheel beside it comes into the unpacked release's wheelhouse, checked; one replaced in
    # the bucket is refused by name.
    release = unpack(artifact, "2.0.0", tmp_path / "home")
    assert fetch_beside(record, release, s3) == 1
    big = release / HOST_WHEELS / "big_cuda_build-1.0-py3-none-any.whl"
    assert big.read_bytes() == (hosts / big.name).read_bytes()
    assert fetch_beside(record, release, s3) == 0  # already there and matching
    big.unlink()
    s3.put_object(Bucket="fleet-releases", Key=f"releases/2.0.0/{big.name}", Body=b"y")
    with pytest.raises(SystemExit, match=r"big_cuda_build-1\.0-py3-none-any\.whl does not match"):
        fetch_beside(record, release, s3)
    assert not big.exists()
    # An artifact replaced in the bucket after it was recorded is not applied.
    s3.put_object(Bucket="fleet-releases", Key="releases/2.0.0/llm-fleet-2.0.0.tar.gz", Body=b"x")
    with pytest.raises(SystemExit, match="expected"):
        download(published("llm-fleet/test", ssm), tmp_path / "host2", s3)


def test_the_thin_release_holds_the_tree_and_the_projects_own_wheels_only(
    tmp_path: Path, wheels: tuple[Path, list[Path]]
) -> None:
    """A host whose image was baked for this release's bake hash fetches the thin release: the
    tree, fleet-rag's wheel (built from this tree), the bake document; not the third-party
    wheels or the toolchain, which the image holds."""
    hosts, apply = wheels
    own = hosts / "fleet_rag-0.1.0-py3-none-any.whl"
    own.write_bytes(b"own wheel")
    built = build("1.2.4", tmp_path / "out", hosts, apply, carry_limit_mb=1)
    manifest = json.loads(built.manifest.read_text())
    thin = tmp_path / "out" / manifest["thin_artifact"]
    verify(thin, (tmp_path / "out" / f"{thin.name}.sha256").read_text())
    with tarfile.open(thin) as archive:
        names = set(archive.getnames())
        bake_file = archive.extractfile(f"llm-fleet/{BAKE_RECORD}")
        assert bake_file is not None
        bake = json.loads(bake_file.read())
    with tarfile.open(built.artifact) as archive:
        full = set(archive.getnames())
    wheels_in = {n for n in names if n.endswith(".whl")}
    assert wheels_in == {f"llm-fleet/{HOST_WHEELS}/{own.name}"}
    assert {n for n in full if not n.endswith(".whl") and "BESIDE" not in n} == names - wheels_in
    assert bake["hash"] == manifest["bake"] == bake_document()["hash"]
    assert set(bake["inputs"]) == {"base", "files", "values", "toolchain"}
