"""A host configures itself from the fleet's release, then completes its own launch lifecycle
action: CONTINUE when site.yml converged it and its services passed their health gates, ABANDON
(with the reason on the console and in the log) otherwise. Run by the launch template's user data
with Debian's python3-boto3; everything after the download comes from the release itself.

Steps, each timed (the closing line is one JSON object with the timings and the result):
  identity   the instance id, region, tags and auto scaling group from IMDSv2
  release    the release the SSM parameter /<Project>/<Environment>/release names (waited for,
             bounded, on a fleet's first deploy, which publishes it after the hosts launch)
  fetch      the release from S3, checked against its SHA-256 before anything is unpacked: the
             thin release (the tree and the project's own wheels) when this host's image was
             baked for the release (its /etc/llm-fleet/image.json holds the bake hash the
             release records), else the full one (every wheel), which converges a bare or
             mismatched host the slow way and says why
  toolchain  a venv from the release's wheels/apply (no index: PyPI is never reached); a
             matching image has it already
  converge   site.yml with the production inventory narrowed to this host (tools/self_inventory);
             its roles' health gates are the host's
  (a release published meanwhile: fetch, toolchain and converge again, for it)
  complete   CompleteLifecycleAction for this instance, this group's hook only
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# The instance metadata service; AWS_EC2_METADATA_SERVICE_ENDPOINT moves it, as it does for the
# AWS SDKs (the lab's stand-in, lab/imds.py).
IMDS = os.environ.get("AWS_EC2_METADATA_SERVICE_ENDPOINT", "http://169.254.169.254").rstrip("/")
HOME = Path("/opt/llm-fleet")
# The log file (in the wiring's fleet_log_dir, which the user data passes: the CloudWatch agent
# ships it once the host is configured); set by main.
_log: Path | None = None


@dataclass(frozen=True)
class Identity:
    instance_id: str
    region: str
    tags: dict[str, str]

    @property
    def prefix(self) -> str:
        """Where the fleet's state and release are published: <Project>/<Environment>."""
        return f"{self.tags['Project']}/{self.tags['Environment']}"

    @property
    def group(self) -> str:
        return self.tags["aws:autoscaling:groupName"]


@dataclass
class Timings:
    steps: dict[str, float] = field(default_factory=dict)

    @contextmanager
    def step(self, name: str) -> Iterator[None]:
        started = time.monotonic()
        say(f"{name}: started")
        try:
            yield
        finally:
            self.steps[name] = round(time.monotonic() - started, 1)
            say(f"{name}: {self.steps[name]} s")


def say(message: str) -> None:
    """To the console (the instance's console output) and the log the CloudWatch agent ships."""
    line = f"llm-fleet-apply: {message}"
    print(line, flush=True)
    if _log is None:
        return
    try:
        _log.parent.mkdir(parents=True, exist_ok=True)
        with _log.open("a") as log:
            log.write(f"{time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())} {line}\n")
    except OSError:
        pass


def imds(path: str, token: str, base: str = IMDS) -> str:
    request = urllib.request.Request(f"{base}/latest/{path}")
    request.add_header("X-aws-ec2-metadata-token", token)
    with urllib.request.urlopen(request, timeout=5) as response:
        return str(response.read().decode())


def identity(base: str = IMDS) -> Identity:
    """This instance, from IMDSv2 (its tags too: the launch template enables them there)."""
    request = urllib.request.Request(f"{base}/latest/api/token", method="PUT")
    request.add_header("X-aws-ec2-metadata-token-ttl-seconds", "300")
    with urllib.request.urlopen(request, timeout=5) as response:
        token = response.read().decode()
    document = json.loads(imds("dynamic/instance-identity/document", token, base))
    names = imds("meta-data/tags/instance", token, base).split()
    tags = {name: imds(f"meta-data/tags/instance/{name}", token, base) for name in names}
    for needed in ("Project", "Environment", "Role"):
        if needed not in tags:
            raise SystemExit(f"this instance has no {needed} tag")
    return Identity(document["instanceId"], document["region"], tags)


def in_group(who: Identity, autoscaling: Any) -> Identity:
    """The identity with its auto scaling group, asked of the Auto Scaling API (the aws: tags are
    not among the instance's metadata tags)."""
    if "aws:autoscaling:groupName" in who.tags:
        return who
    found = autoscaling.describe_auto_scaling_instances(InstanceIds=[who.instance_id])
    groups = [i["AutoScalingGroupName"] for i in found["AutoScalingInstances"]]
    if not groups:
        raise SystemExit(f"{who.instance_id} is in no auto scaling group")
    return Identity(
        who.instance_id, who.region, {**who.tags, "aws:autoscaling:groupName": groups[0]}
    )


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def release_parameter(prefix: str) -> str:
    """The SSM parameter that names the release the fleet runs: /<Project>/<Environment>/release."""
    return f"/{prefix.strip('/')}/release"


def published(prefix: str, ssm: Any) -> dict[str, str]:
    """The release record /<prefix>/release holds: {"version", "artifact", "sha256", ...}."""
    value = ssm.get_parameter(Name=release_parameter(prefix))["Parameter"]["Value"]
    record: dict[str, str] = json.loads(value)
    return record


def wait_for_release(prefix: str, ssm: Any, wait_s: float, pause_s: float = 20) -> dict[str, str]:
    """The published release; on a fleet's first deploy the hosts can start before the deploy
    publishes one, so an absent parameter is waited for (bounded by wait_s), then refused."""
    deadline = time.monotonic() + wait_s
    while True:
        try:
            return published(prefix, ssm)
        except ssm.exceptions.ParameterNotFound:
            if time.monotonic() >= deadline:
                raise SystemExit(
                    f"release: no {release_parameter(prefix)} after {wait_s:.0f} s: "
                    "has the deploy published one?"
                ) from None
            say(f"no release published at {release_parameter(prefix)} yet; waiting")
            time.sleep(pause_s)


def download(record: dict[str, str], dest: Path, s3: Any) -> Path:
    """The release record names, downloaded to dest and checked (SystemExit when its SHA-256
    differs from the recorded one: nothing is unpacked from it)."""
    match = re.fullmatch(r"s3://([^/]+)/(.+)", record["artifact"])
    if match is None:
        raise SystemExit(f"release: {record['artifact']!r} is not an s3:// address")
    dest.mkdir(parents=True, exist_ok=True)
    artifact = dest / match.group(2).rsplit("/", 1)[-1]
    s3.download_file(match.group(1), match.group(2), str(artifact))
    actual = sha256_of(artifact)
    if actual != record["sha256"]:
        artifact.unlink()
        raise SystemExit(
            f"release: {artifact.name} has SHA-256 {actual}, expected {record['sha256']}"
        )
    return artifact


# In the release (and a checkout): the hosts' wheels, where the roles look for them.
HOST_WHEELS = ".cache/wheelhouse"
# In the release: the bake document it expects of a baked image (fleetlib/bake.py); on a baked
# image: the one it was built with (tools/image_bake.py).
BAKE_RECORD = "BAKE.json"
IMAGE_RECORD = Path("/etc/llm-fleet/image.json")
# In the release: the wheels too large to carry, which sit beside the artifact in S3.
BESIDE_LIST = "BESIDE.json"


def fetch_beside(record: dict[str, str], release: Path, s3: Any) -> int:
    """The wheels the release names in BESIDE.json, from beside its artifact in S3 into its
    wheelhouse, each checked against its SHA-256 (the list itself is under the artifact's);
    returns how many were fetched."""
    listed = release / BESIDE_LIST
    wanted = json.loads(listed.read_text()) if listed.exists() else []
    match = re.fullmatch(r"s3://([^/]+)/(.+)/[^/]+", record["artifact"])
    if match is None:
        raise SystemExit(f"release: {record['artifact']!r} is not an s3:// address")
    wheelhouse = release / HOST_WHEELS
    wheelhouse.mkdir(parents=True, exist_ok=True)
    fetched = 0
    for wheel in wanted:
        target = wheelhouse / wheel["name"]
        if target.exists() and sha256_of(target) == wheel["sha256"]:
            continue
        s3.download_file(match.group(1), f"{match.group(2)}/{wheel['name']}", str(target))
        if sha256_of(target) != wheel["sha256"]:
            target.unlink()
            raise SystemExit(f"release: {wheel['name']} does not match its SHA-256 in the release")
        fetched += 1
    return fetched


@dataclass(frozen=True)
class Plan:
    """What this host fetches: the thin release on a matching baked image, else the full one."""

    thin: bool
    image: str  # the bake hash of this host's image ("" when it was not baked)
    expected: str  # the bake hash the release records
    why: str

    def as_record(self) -> dict[str, object]:
        return {"release": "thin" if self.thin else "full", "image": self.image,
                "expected": self.expected, "why": self.why}  # fmt: skip


def image_bake(image: Path = IMAGE_RECORD) -> str:
    """The bake hash of the image this host booted from ("" when it was not baked)."""
    try:
        return str(json.loads(image.read_text())["bake"])
    except (OSError, ValueError, KeyError):
        return ""


def plan(record: dict[str, str], image: str) -> Plan:
    expected = record.get("bake", "")
    if not image:
        return Plan(False, "", expected, "this host's image is not baked: the full release")
    if image != expected or not record.get("thin_artifact"):
        return Plan(
            False, image, expected,
            f"this host's image (bake {image[:12]}) does not match the release (bake "
            f"{expected[:12] or 'none'}): the full release, converged the slow way",
        )  # fmt: skip
    return Plan(True, image, expected, f"this host's image matches the release (bake {image[:12]})")


def unpack(artifact: Path, version: str, home: Path = HOME) -> Path:
    """The release under home/releases/<version>, home/current pointing at it."""
    target = home / "releases" / version
    if not (target / "VERSION").exists():
        target.mkdir(parents=True, exist_ok=True)
        with tarfile.open(artifact) as archive:
            if hasattr(tarfile, "data_filter"):
                archive.extractall(target, filter="data")
            else:  # a Python without extraction filters: the same refusals, by hand
                for member in archive.getmembers():
                    name = Path(member.name)
                    unsafe = name.is_absolute() or ".." in name.parts
                    if unsafe or not (member.isreg() or member.isdir()):
                        raise SystemExit(f"release: refusing {member.name!r}")
                archive.extractall(target)
    release = target / "llm-fleet"
    current = home / "current"
    current.unlink(missing_ok=True)
    current.symlink_to(release)
    return release


def fetch(record: dict[str, str], home: Path, s3: Any, thin: bool = False) -> Path:
    """The release the record names, downloaded, checked and unpacked under home (the full one
    with the wheels beside it, or the thin one); returns the unpacked release's root."""
    wanted = (
        {"artifact": record["thin_artifact"], "sha256": record["thin_sha256"]} if thin else record
    )
    artifact = download(wanted, home / "downloads", s3)
    release = unpack(artifact, record["version"], home)
    artifact.unlink()  # unpacked: the root disk keeps one copy of a release
    if not thin:
        fetch_beside(record, release, s3)
    return release


def complete(autoscaling: Any, who: Identity, hook: str, result: str, reason: str = "") -> None:
    """This instance's own launch lifecycle action, in its own group."""
    if result not in ("CONTINUE", "ABANDON"):
        raise ValueError(result)
    say(f"completing the launch lifecycle action: {result}{' - ' + reason if reason else ''}")
    autoscaling.complete_lifecycle_action(
        LifecycleHookName=hook,
        AutoScalingGroupName=who.group,
        LifecycleActionResult=result,
        InstanceId=who.instance_id,
    )


def run(argv: list[str], **kwargs: Any) -> None:
    say("$ " + " ".join(argv))
    subprocess.run(argv, check=True, **kwargs)


def toolchain(release: Path, venv: Path = HOME / "venv") -> None:
    """The toolchain from the release's own wheels: every wheel it carries, no index."""
    run([sys.executable, "-m", "venv", "--clear", str(venv)])
    wheels = sorted(str(w) for w in (release / "wheels" / "apply").glob("*.whl"))
    run([str(venv / "bin" / "pip"), "install", "--quiet", "--no-index", *wheels])


def apply(release: Path, who: Identity, inventory: str, venv: Path = HOME / "venv") -> None:
    """site.yml on this host alone, with the inventory (a path in the release) narrowed to it."""
    production = release / inventory
    run([str(venv / "bin" / "python"), str(release / "tools" / "self_inventory.py"),
         str(production), who.instance_id])  # fmt: skip
    hosts = release / HOST_WHEELS
    own = production.with_name("self.aws_ec2.yml")
    run(
        [str(venv / "bin" / "ansible-playbook"), "-i", str(own),
         "site.yml",
         "-e", f"open_webui_pip_find_links={hosts} chromadb_rag_pip_find_links={hosts}",
         "-e", "open_webui_pip_no_index=true chromadb_rag_pip_no_index=true"],
        cwd=release,
    )  # fmt: skip


# A release published while a host converges is applied too (the deploy publishes, then
# configures the hosts in service: one that fetched the previous release would otherwise join
# behind); at most this many rounds, then the host gives up.
ROUNDS = 3


def configure(
    who: Identity, record: dict[str, str], clients: tuple[Any, Any], timings: Timings,
    home: Path, inventory: str, image_record: Path = IMAGE_RECORD,
) -> dict[str, Any]:  # fmt: skip
    """Fetch, unpack, toolchain and converge until the release converged is still the published
    one; returns its record (also written to home/applied.json)."""
    s3, ssm = clients
    image = image_bake(image_record)
    for round_ in range(1, ROUNDS + 1):
        suffix = "" if round_ == 1 else f" (round {round_})"
        chosen = plan(record, image)
        say(chosen.why)
        with timings.step("fetch" + suffix):
            release = fetch(record, home, s3, thin=chosen.thin)
        if not (chosen.thin and (home / "venv" / "bin" / "ansible-playbook").exists()):
            with timings.step("toolchain" + suffix):
                toolchain(release, home / "venv")
        with timings.step("converge" + suffix):
            apply(release, who, inventory, home / "venv")
        latest = published(who.prefix, ssm)
        if latest["version"] == record["version"]:
            applied = {**record, "image": chosen.as_record()}
            (home / "applied.json").write_text(json.dumps(applied, sort_keys=True) + "\n")
            for other in (home / "releases").iterdir():  # earlier rounds' releases
                if other.name != record["version"]:
                    shutil.rmtree(other)
            return applied
        say(f"release {latest['version']} was published while {record['version']} converged")
        record = latest
    raise SystemExit(f"release: still changing after {ROUNDS} rounds of configuration")


def main(
    hook: str,
    log: Path,
    clients: Callable[[str], tuple[Any, Any, Any]],
    who: Identity | None = None,
    home: Path = HOME,
    inventory: str = "inventories/aws_ec2.yml",
    release_wait_s: float = 1200,
    image_record: Path = IMAGE_RECORD,
) -> int:
    """hook: the launch lifecycle hook to complete; empty for an instance outside an auto
    scaling group (the lab's scale-out, whose EC2 API cannot complete one). release_wait_s: how
    long a host waits for a first release to be published (within the hook's timeout)."""
    global _log
    _log = log
    timings = Timings()
    result: dict[str, Any] = {"result": "ABANDON", "steps": timings.steps}
    autoscaling = None
    try:
        with timings.step("identity"):
            who = who or identity()
            s3, ssm, autoscaling = clients(who.region)
            if hook:
                who = in_group(who, autoscaling)
        with timings.step("release"):
            record = wait_for_release(who.prefix, ssm, release_wait_s)
            result["version"] = record["version"]
        applied = configure(who, record, (s3, ssm), timings, home, inventory, image_record)
        result["version"] = applied["version"]
        result["image"] = applied["image"]
        if hook:
            with timings.step("complete"):
                complete(autoscaling, who, hook, "CONTINUE")
        else:
            say("no launch lifecycle hook: nothing to complete")
        result["result"] = "CONTINUE"
    except (Exception, SystemExit) as exc:
        reason = f"{type(exc).__name__}: {exc}"
        say(f"failed: {reason}")
        result["reason"] = reason
        if hook and autoscaling is not None and who is not None:
            try:
                complete(autoscaling, who, hook, "ABANDON", reason)
            except Exception as again:  # the hook's timeout abandons it anyway
                say(f"could not abandon: {again}")
    print(json.dumps(result), flush=True)
    return 0 if result["result"] == "CONTINUE" else 1


def aws_clients(region: str) -> tuple[Any, Any, Any]:
    """S3, SSM and Auto Scaling in the host's region. AWS_ENDPOINT_URL, which newer SDKs read
    themselves, is read here for Debian 12's boto3 (the lab's AWS API)."""
    import boto3

    options = {"region_name": region, "endpoint_url": os.environ.get("AWS_ENDPOINT_URL") or None}
    return (
        boto3.client("s3", **options),
        boto3.client("ssm", **options),
        boto3.client("autoscaling", **options),
    )


def fetch_for_image(prefix: str, base: str = IMDS) -> Path:
    """An image build's release: the full release the fleet publishes under prefix, fetched and
    unpacked as a host would (the build instance has no fleet tags: only its region is read)."""
    request = urllib.request.Request(f"{base}/latest/api/token", method="PUT")
    request.add_header("X-aws-ec2-metadata-token-ttl-seconds", "300")
    with urllib.request.urlopen(request, timeout=5) as response:
        token = response.read().decode()
    region = json.loads(imds("dynamic/instance-identity/document", token, base))["region"]
    s3, ssm, _ = aws_clients(region)
    return fetch(published(prefix, ssm), HOME, s3)


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "fetch":  # an image build (tools/image_bake.py)
        print(fetch_for_image(sys.argv[2]))
        raise SystemExit(0)
    if len(sys.argv) != 4:
        raise SystemExit(
            "usage: host_apply.py <lifecycle hook or ''> <log file> <inventory>\n"
            "       host_apply.py fetch <Project>/<Environment>   (an image build)"
        )
    raise SystemExit(main(sys.argv[1], Path(sys.argv[2]), aws_clients, inventory=sys.argv[3]))
