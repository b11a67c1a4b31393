"""Ollama models in the fleet's S3 mirror, so that a host the auto scaling group launches takes
its models from the region's S3 instead of Ollama's public registry.

  push   copies models - their manifests and blobs, as Ollama stores them - from a models
         folder (--from-dir) or from Ollama's registry (--from-registry) into the mirror; blobs
         already there are not copied again. The deploy runs it for the pinned models.
  fetch  copies models from the mirror into a host's models folder: each blob checked against
         its digest before it is kept, the manifest written last (Ollama lists a model once its
         manifest is there, so a cut fetch leaves no half model). Models the mirror lacks are
         reported, not failed: the ollama role pulls those from the registry.

The mirror (s3://bucket/prefix) is laid out as Ollama's folder:
  <prefix>/manifests/<registry>/<namespace>/<model>/<tag>   <prefix>/blobs/sha256-<hex>
The last line of output is one JSON object: what was copied, skipped or absent, and the bytes.
Standard library and boto3 (Debian's python3-boto3 on the hosts); AWS_ENDPOINT_URL is honoured
(Debian 12's boto3 does not read it itself)."""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import sys
import tempfile
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from typing import Any

REGISTRY = "registry.ollama.ai"
MANIFEST_TYPES = ",".join(
    [
        "application/vnd.docker.distribution.manifest.v2+json",
        "application/vnd.oci.image.manifest.v1+json",
    ]
)


def split_name(name: str) -> tuple[str, str, str]:
    """'llama3.2:1b' -> ('library', 'llama3.2', '1b'); 'me/model' -> ('me', 'model', 'latest')."""
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._/-]*(:[A-Za-z0-9._-]+)?", name.strip()):
        raise SystemExit(f"ollama_mirror: {name!r} is not a model name")
    base, _, tag = name.strip().partition(":")
    namespace, _, model = base.rpartition("/")
    return namespace or "library", model, tag or "latest"


def manifest_key(name: str) -> str:
    namespace, model, tag = split_name(name)
    return f"manifests/{REGISTRY}/{namespace}/{model}/{tag}"


def models_in(folder: Path) -> list[str]:
    """The models an Ollama models folder holds, named as Ollama lists them (the inverse of
    manifest_key: library/<model>/<tag> -> <model>:<tag>)."""
    root = folder / "manifests" / REGISTRY
    return [
        f"{'' if ns == 'library' else ns + '/'}{model}:{tag}"
        for ns, model, tag in (path.parts[-3:] for path in sorted(root.glob("*/*/*")))
    ]


def blob_key(digest: str) -> str:
    if not re.fullmatch(r"sha256:[0-9a-f]{64}", digest):
        raise SystemExit(f"ollama_mirror: {digest!r} is not a sha256 digest")
    return "blobs/" + digest.replace(":", "-")


def blobs_of(manifest: dict[str, Any]) -> list[dict[str, Any]]:
    return [manifest["config"], *manifest["layers"]]


def parse_s3(url: str) -> tuple[str, str]:
    match = re.fullmatch(r"s3://([^/]+)/?(.*)", url)
    if match is None:
        raise SystemExit(f"ollama_mirror: {url!r} is not an s3://bucket/prefix address")
    return match.group(1), match.group(2).strip("/")


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return "sha256:" + digest.hexdigest()


def in_bucket(s3: Any, bucket: str, key: str) -> bool:
    try:
        s3.head_object(Bucket=bucket, Key=key)
    except s3.exceptions.ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
            return False
        raise
    return True


def checked(path: Path, digest: str, what: str) -> None:
    """Refuse (and delete) a file whose content is not its digest."""
    actual = sha256_file(path)
    if actual != digest:
        path.unlink()
        raise SystemExit(f"ollama_mirror: {what} has {actual}, its manifest says {digest}")


class Source:
    """Where push reads models from: a models folder or Ollama's registry."""

    def __init__(self, folder: Path | None = None, registry: str = "") -> None:
        self.folder, self.registry = folder, registry.rstrip("/")

    def manifest(self, name: str) -> bytes:
        if self.folder is not None:
            return (self.folder / manifest_key(name)).read_bytes()
        namespace, model, tag = split_name(name)
        request = urllib.request.Request(
            f"{self.registry}/v2/{namespace}/{model}/manifests/{tag}",
            headers={"Accept": MANIFEST_TYPES},
        )
        with urllib.request.urlopen(request, timeout=60) as response:
            return bytes(response.read())

    def blob(self, name: str, digest: str, into: Path) -> Path:
        if self.folder is not None:
            return self.folder / blob_key(digest)
        namespace, model, _ = split_name(name)
        url = f"{self.registry}/v2/{namespace}/{model}/blobs/{digest}"
        target = into / digest.replace(":", "-")
        with urllib.request.urlopen(url, timeout=60) as response, target.open("wb") as out:
            shutil.copyfileobj(response, out, 1 << 20)
        checked(target, digest, f"{name}'s blob from the registry")
        return target


def push(names: Sequence[str], source: Source, s3: Any, mirror: str) -> dict[str, Any]:
    bucket, prefix = parse_s3(mirror)
    report: dict[str, Any] = {"pushed": [], "blobs_copied": 0, "blobs_present": 0, "bytes": 0}
    for name in names:
        raw = source.manifest(name)
        manifest = json.loads(raw)
        with tempfile.TemporaryDirectory() as scratch:
            for blob in blobs_of(manifest):
                key = f"{prefix}/{blob_key(blob['digest'])}".lstrip("/")
                if in_bucket(s3, bucket, key):
                    report["blobs_present"] += 1
                    continue
                path = source.blob(name, blob["digest"], Path(scratch))
                s3.upload_file(str(path), bucket, key)
                report["blobs_copied"] += 1
                report["bytes"] += path.stat().st_size
        # The manifest last: a mirror never names a blob it does not hold.
        s3.put_object(Bucket=bucket, Key=f"{prefix}/{manifest_key(name)}".lstrip("/"), Body=raw)
        report["pushed"].append(name)
    return report


def chown(path: Path, owner: str) -> None:
    if owner:
        shutil.chown(path, owner, owner)


def fetch(
    names: Sequence[str], s3: Any, mirror: str, models: Path, owner: str = ""
) -> dict[str, Any]:
    bucket, prefix = parse_s3(mirror)
    report: dict[str, Any] = {"fetched": [], "absent": [], "blobs_copied": 0, "bytes": 0}
    for folder in (models, models / "blobs"):
        if not folder.exists():
            folder.mkdir(parents=True)
            chown(folder, owner)
    for name in names:
        key = f"{prefix}/{manifest_key(name)}".lstrip("/")
        try:
            raw = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        except s3.exceptions.NoSuchKey:
            report["absent"].append(name)
            continue
        manifest = json.loads(raw)
        for blob in blobs_of(manifest):
            target = models / blob_key(blob["digest"])
            if target.exists() and target.stat().st_size == blob["size"]:
                continue
            partial = target.with_name(target.name + ".partial")
            s3.download_file(
                bucket, f"{prefix}/{blob_key(blob['digest'])}".lstrip("/"), str(partial)
            )
            checked(partial, blob["digest"], f"{name}'s blob {blob['digest'][:19]}")
            chown(partial, owner)
            partial.rename(target)
            report["blobs_copied"] += 1
            report["bytes"] += blob["size"]
        path = models / manifest_key(name)
        for folder in [*reversed(path.relative_to(models).parents)][1:]:
            if not (models / folder).exists():
                (models / folder).mkdir()
                chown(models / folder, owner)
        partial = path.with_name(path.name + ".partial")
        partial.write_bytes(raw)
        chown(partial, owner)
        partial.rename(path)
        report["fetched"].append(name)
    return report


def s3_client(region: str) -> Any:
    import boto3

    endpoint = os.environ.get("AWS_ENDPOINT_URL") or None
    return boto3.client("s3", region_name=region or None, endpoint_url=endpoint)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="ollama_mirror.py", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    send = sub.add_parser("push", help="copy models into the mirror")
    send.add_argument("--to", required=True, help="s3://bucket/prefix")
    origin = send.add_mutually_exclusive_group(required=True)
    origin.add_argument("--from-dir", type=Path, help="an Ollama models folder")
    origin.add_argument(
        "--from-registry", help="Ollama's registry, e.g. https://registry.ollama.ai"
    )
    take = sub.add_parser("fetch", help="copy models from the mirror into a models folder")
    take.add_argument("--from", dest="mirror", required=True, help="s3://bucket/prefix")
    take.add_argument("--models-dir", type=Path, required=True)
    take.add_argument("--owner", default="", help="the user the files belong to (ollama)")
    for command in (send, take):
        command.add_argument("--region", default=os.environ.get("AWS_DEFAULT_REGION", ""))
        command.add_argument("models", nargs="+")
    args = parser.parse_args(argv)
    s3 = s3_client(args.region)
    if args.command == "push":
        source = Source(args.from_dir, args.from_registry or "")
        report = push(args.models, source, s3, args.to)
    else:
        report = fetch(args.models, s3, args.mirror, args.models_dir, args.owner)
    print(json.dumps(report), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
