"""The fleet's release: one versioned, checksummed artifact a host can configure itself from.

`python -m tools.release build --version V` writes artifacts/release/:
  llm-fleet-V.tar.gz          site.yml, ansible.cfg, playbooks/, roles/ (without their Molecule
                              scenarios), plugins/, the production inventory and group_vars, the
                              pins; wheels/apply/ (the toolchain a host runs site.yml with:
                              ansible, which brings the pinned collections, and boto3, for the
                              hosts' Python); HOST_WHEELS/ (what the roles pip-install,
                              where they look for it in a checkout)
  llm-fleet-V.tar.gz.sha256   its SHA-256, which the host checks before it unpacks anything
  llm-fleet-V.manifest.json   the version, the artifact's digest, and the wheels too large to carry
                              (over --carry-limit-mb: torch's CUDA build in production), which sit
                              beside it in S3 and are named here with their own digests
  beside/                     those wheels (the artifact's BESIDE.json names them with their
                              digests: the host fetches and checks each)
The same inputs give the same bytes (sorted entries, fixed times and owners), so a rebuild of an
unchanged tree is the same release.
"""

from __future__ import annotations

import argparse
import gzip
import io
import json
import re
import subprocess
import sys
import tarfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from fleetlib.bake import BASE, bake_hash, bake_inputs
from fleetlib.paths import APPLY_WHEELS, ARTIFACTS, REPO, WHEELHOUSE
from tools.host_apply import BAKE_RECORD, BESIDE_LIST, HOST_WHEELS, release_parameter, sha256_of

# What a host needs to run site.yml against itself, relative to the repository.
TREE = (
    "ansible.cfg",
    "site.yml",
    "playbooks",
    "roles",
    "plugins",
    "inventories/aws_ec2.yml",
    "inventories/group_vars",
    "collections/requirements.yml",
    "requirements-dev.txt",
    "requirements-hosts.txt",
    "constraints.txt",
    "tools/__init__.py",
    "tools/self_inventory.py",
    "tools/host_apply.py",
    "tools/image_bake.py",
)
# The lab's release also carries its inventory and what its group_vars point at: the test
# stand-ins' archives and the sample corpus.
LAB_TREE = (
    "inventories/lab",
    ".cache/ollama-standin",
    ".cache/cloudwatch-agent-standin",
    ".cache/ssm-agent-standin",
    "tests/fixtures/documents",
)
# Never in a release: tests, caches, bytecode.
EXCLUDED = re.compile(r"(^|/)(molecule|__pycache__|\.pytest_cache|\.mypy_cache)(/|$)|\.pyc$")
# The part of the controller toolchain a host runs site.yml with (pinned in requirements-dev.txt
# or, for what the controller gets as a dependency, constraints.txt): Ansible, the AWS SDK, and
# jsonschema for ansible.utils.validate (the CloudWatch agent's config is checked against its
# schema on the controller - on a self-configuring host, the host).
APPLY_TOOLCHAIN = ("ansible", "ansible-core", "boto3", "botocore", "jsonschema")
# The hosts' Python: Debian 12's.
HOST_PYTHON = "3.11"
HOST_PLATFORMS = ("manylinux_2_36_x86_64", "manylinux_2_28_x86_64", "manylinux2014_x86_64")
FIXED_MTIME = 315532800  # 1980-01-01, as the wheels' reproducible builds use
# The project's own wheels, built from this tree (by name): in the thin release too.
OWN_WHEELS = ("fleet_rag-",)
PREFIX = "llm-fleet"


@dataclass(frozen=True)
class Built:
    artifact: Path
    sha256: str
    manifest: Path


def pins(files: Sequence[Path], names: Sequence[str]) -> list[str]:
    """The `name==version` pins of these names in the files (the first file that pins one wins),
    each required."""
    found: dict[str, str] = {}
    for line in (line for path in reversed(files) for line in path.read_text().splitlines()):
        match = re.match(r"^([A-Za-z0-9_.-]+)(\[[^\]]*\])?==(\S+)", line.strip())
        if match:
            found[match.group(1).lower()] = f"{match.group(1)}=={match.group(3)}"
    missing = [name for name in names if name.lower() not in found]
    if missing:
        raise SystemExit(f"release: {', '.join(p.name for p in files)} pin no {', '.join(missing)}")
    return [found[name.lower()] for name in names]


def schema_version(root: Path = REPO) -> str:
    """The Open WebUI version the release pins: its database schema (tools/db_upgrade.py)."""
    return pins([root / "requirements-hosts.txt"], ["open-webui"])[0].split("==", 1)[1]


def tree_files(root: Path, lab: bool = False) -> Iterator[tuple[Path, str]]:
    """The release's files from the repository, sorted, with their names inside the release."""
    for entry in TREE + (LAB_TREE if lab else ()):
        path = root / entry
        if not path.exists():
            raise SystemExit(f"release: {entry} is missing from {root}")
        files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
        for file in files:
            name = str(file.relative_to(root))
            if not EXCLUDED.search(name):
                yield file, name


def download_for_hosts(dest: Path, requirements: Sequence[str]) -> list[Path]:
    """Wheels for the hosts' Python and platform (binary only), from PyPI (or pip's configured
    index), into dest: pip's arguments after `download` name what."""
    dest.mkdir(parents=True, exist_ok=True)
    platforms = [f"--platform={platform}" for platform in HOST_PLATFORMS]
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "--quiet", "--only-binary=:all:",
         f"--python-version={HOST_PYTHON}", *platforms, "--dest", str(dest), *requirements],
        check=True,
    )  # fmt: skip
    return sorted(dest.glob("*.whl"))


def download_apply_toolchain(root: Path, dest: Path) -> list[Path]:
    """The apply toolchain's wheels for the hosts' Python."""
    return download_for_hosts(
        dest,
        ["--constraint", str(root / "constraints.txt"),
         *pins([root / "requirements-dev.txt", root / "constraints.txt"], APPLY_TOOLCHAIN)],
    )  # fmt: skip


def pinned_models(root: Path = REPO) -> list[str]:
    """ollama_models as the production inventory sets it (inventories/group_vars/all.yml), else
    the ollama role's default: what the deploy mirrors."""
    for source in ("inventories/group_vars/all.yml", "roles/ollama/defaults/main.yml"):
        values = yaml.safe_load((root / source).read_text()) or {}
        if "ollama_models" in values:
            return [str(name) for name in values["ollama_models"]]
    raise SystemExit("release: no ollama_models in the inventory or the ollama role")


def download_host_wheels(root: Path, dest: Path) -> list[Path]:
    """The hosts' wheels (requirements-hosts.txt) for their Python and platform - torch's CUDA
    build included (the lab's wheelhouse is downloaded inside a lab host instead, with this
    machine's CPU build)."""
    return download_for_hosts(dest, ["--requirement", str(root / "requirements-hosts.txt")])


def add_file(archive: tarfile.TarFile, name: str, data: bytes, mode: int = 0o644) -> None:
    info = tarfile.TarInfo(f"{PREFIX}/{name}")
    info.size, info.mode, info.mtime = len(data), mode, FIXED_MTIME
    info.uid = info.gid = 0
    info.uname = info.gname = "root"
    archive.addfile(info, io.BytesIO(data))


def bake_document(root: Path = REPO, lab: bool = False, base: str = BASE) -> dict[str, Any]:
    """The bake inputs of this tree for a gpu-node of the production (or the lab's) inventory,
    with their hash (fleetlib/bake.py): what the release records as BAKE.json."""
    inputs = bake_inputs(
        root / ("inventories/lab" if lab else "inventories"),
        pins([root / "requirements-dev.txt", root / "constraints.txt"], APPLY_TOOLCHAIN),
        root,
        base,
    )
    return {"hash": bake_hash(inputs), "inputs": inputs}


def write_archive(artifact: Path, entries: Iterable[tuple[str, bytes, int]]) -> str:
    """A reproducible .tar.gz of (name, data, mode) entries under PREFIX/; returns its SHA-256
    (also written beside it as <artifact>.sha256)."""
    with (
        artifact.open("wb") as raw,
        gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=6) as zipped,
        tarfile.open(fileobj=zipped, mode="w", format=tarfile.PAX_FORMAT) as archive,
    ):
        for name, data, mode in entries:
            add_file(archive, name, data, mode)
    digest = sha256_of(artifact)
    artifact.with_name(artifact.name + ".sha256").write_text(f"{digest}  {artifact.name}\n")
    return digest


def own_wheel(wheel: Path) -> bool:
    """The project's own wheels (fleet-rag), built from this tree: a thin release carries them,
    a baked image does not hold them."""
    return wheel.name.startswith(OWN_WHEELS)


def build(
    version: str,
    out: Path,
    host_wheels: Path,
    apply_wheels: Sequence[Path],
    carry_limit_mb: int,
    root: Path = REPO,
    lab: bool = False,
    bake_base: str = BASE,
) -> Built:
    """The full release (every wheel: a bare host converges from it) and the thin one (the tree
    and the project's own wheels: a host whose image was baked for this release's bake hash)."""
    if not re.fullmatch(r"[0-9A-Za-z][0-9A-Za-z._-]{0,63}", version):
        raise SystemExit(
            f"release: version {version!r} is not a plain name (letters, digits, . _ -)"
        )
    wheels = sorted(host_wheels.glob("*.whl"))
    if not wheels:
        raise SystemExit(f"release: no wheels in {host_wheels} (`make wheelhouse` builds them)")
    if not apply_wheels:
        raise SystemExit("release: no apply toolchain wheels")
    out.mkdir(parents=True, exist_ok=True)
    beside_dir = out / "beside"
    beside_dir.mkdir(exist_ok=True)
    limit = carry_limit_mb * 1024 * 1024
    beside = [w for w in wheels if w.stat().st_size > limit]
    beside_list = [
        {"name": w.name, "sha256": sha256_of(w), "bytes": w.stat().st_size} for w in beside
    ]
    bake = bake_document(root, lab, bake_base)
    tree = [
        (name, path.read_bytes(), 0o755 if path.stat().st_mode & 0o100 else 0o644)
        for path, name in tree_files(root, lab)
    ]
    common = [
        ("VERSION", f"{version}\n".encode(), 0o644),
        (BAKE_RECORD, (json.dumps(bake, indent=2, sort_keys=True) + "\n").encode(), 0o644),
    ]
    artifact = out / f"{PREFIX}-{version}.tar.gz"
    digest = write_archive(
        artifact,
        [
            *tree,
            *((f"wheels/apply/{w.name}", w.read_bytes(), 0o644) for w in sorted(apply_wheels)),
            *((f"{HOST_WHEELS}/{w.name}", w.read_bytes(), 0o644) for w in wheels
              if w not in beside),
            *common,
            # What the host fetches from beside the artifact, named under the artifact's checksum.
            (BESIDE_LIST, (json.dumps(beside_list, indent=2) + "\n").encode(), 0o644),
        ],
    )  # fmt: skip
    thin = out / f"{PREFIX}-{version}-thin.tar.gz"
    thin_digest = write_archive(
        thin,
        [*tree, *((f"{HOST_WHEELS}/{w.name}", w.read_bytes(), 0o644) for w in wheels
                  if own_wheel(w)), *common],
    )  # fmt: skip
    for wheel in beside:
        target = beside_dir / wheel.name
        if not target.exists() or sha256_of(target) != sha256_of(wheel):
            target.write_bytes(wheel.read_bytes())
    manifest = out / f"{PREFIX}-{version}.manifest.json"
    manifest.write_text(
        json.dumps(
            {
                "version": version,
                "artifact": artifact.name,
                "sha256": digest,
                "thin_artifact": thin.name,
                "thin_sha256": thin_digest,
                "bake": bake["hash"],
                "python": HOST_PYTHON,
                # The front end whose schema this release migrates the shared database to.
                "open_webui": schema_version(root),
                "beside": beside_list,
            },
            indent=2,
        )
        + "\n"
    )
    return Built(artifact, digest, manifest)


def verify(artifact: Path, expected: str) -> None:
    """Refuse an artifact whose SHA-256 is not the one recorded for its version."""
    actual = sha256_of(artifact)
    if actual != expected.strip().split()[0]:
        raise SystemExit(f"release: {artifact.name} has SHA-256 {actual}, expected {expected}")


def publish(built: Built, bucket: str, prefix: str, s3: Any, ssm: Any) -> dict[str, str]:
    """Upload the artifact, its checksum, manifest and the wheels beside it under
    s3://bucket/releases/<version>/, then record it as the fleet's release (last, so that no host
    is pointed at a release before all of it is there)."""
    manifest = json.loads(built.manifest.read_text())
    key = f"releases/{manifest['version']}"
    uploads = [built.artifact, built.artifact.with_name(built.artifact.name + ".sha256")]
    thin = built.artifact.with_name(manifest["thin_artifact"])
    uploads += [thin, thin.with_name(thin.name + ".sha256"), built.manifest]
    uploads += [built.artifact.parent / "beside" / b["name"] for b in manifest["beside"]]
    for path in uploads:
        s3.upload_file(str(path), bucket, f"{key}/{path.name}")
    record = {
        "version": manifest["version"],
        "sha256": built.sha256,
        "artifact": f"s3://{bucket}/{key}/{built.artifact.name}",
        "thin_artifact": f"s3://{bucket}/{key}/{thin.name}",
        "thin_sha256": manifest["thin_sha256"],
        # The bake hash a host's image must have for the thin release to do.
        "bake": manifest["bake"],
        "open_webui": manifest.get("open_webui", ""),
    }
    ssm.put_parameter(
        Name=release_parameter(prefix), Value=json.dumps(record), Type="String", Overwrite=True
    )
    return record


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.release", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    make = sub.add_parser("build", help="build the release artifact")
    make.add_argument("--version", required=True)
    make.add_argument("--out", type=Path, default=ARTIFACTS / "release")
    make.add_argument("--host-wheels", type=Path, default=WHEELHOUSE)
    make.add_argument(
        "--apply-wheels",
        type=Path,
        default=APPLY_WHEELS,
        help="the apply toolchain's wheels (downloaded there when the folder is empty)",
    )
    make.add_argument("--carry-limit-mb", type=int, default=400)
    make.add_argument("--lab", action="store_true", help="add the lab's inventory and stand-ins")
    check = sub.add_parser("verify", help="check an artifact against its .sha256")
    check.add_argument("artifact", type=Path)
    sub.add_parser("models", help="the models the fleet pins (ollama_models), one per line")
    sub.add_parser(
        "bake-hash",
        help="the bake hash of this tree (the deploy passes it to terraform as image_bake_hash)",
    )
    tools = sub.add_parser(
        "toolchain", help="download the apply toolchain's wheels for the hosts' Python, once"
    )
    tools.add_argument("--dest", type=Path, default=APPLY_WHEELS)
    hosts = sub.add_parser(
        "wheels", help="download the hosts' wheels for their Python (3.11, manylinux) from PyPI"
    )
    hosts.add_argument("--dest", type=Path, default=WHEELHOUSE)
    send = sub.add_parser(
        "publish", help="upload a built release to S3 and record it as the fleet's release"
    )
    send.add_argument("--version", required=True)
    send.add_argument("--out", type=Path, default=ARTIFACTS / "release")
    send.add_argument("--bucket", required=True, help="terraform output release_bucket_name")
    send.add_argument("--prefix", required=True, help="terraform output state_prefix")
    send.add_argument("--region", required=True)
    args = parser.parse_args(argv)
    if args.command == "bake-hash":
        print(bake_document()["hash"])
        return 0
    if args.command == "models":
        print("\n".join(pinned_models()))
        return 0
    if args.command == "toolchain":
        count = len(sorted(args.dest.glob("*.whl")) or download_apply_toolchain(REPO, args.dest))
        print(f"{count} wheels in {args.dest}")
        return 0
    if args.command == "wheels":
        count = len(download_host_wheels(REPO, args.dest))
        print(f"{count} wheels in {args.dest}")
        return 0
    if args.command == "publish":
        import boto3

        built = Built(
            args.out / f"{PREFIX}-{args.version}.tar.gz",
            (args.out / f"{PREFIX}-{args.version}.tar.gz.sha256").read_text().split()[0],
            args.out / f"{PREFIX}-{args.version}.manifest.json",
        )
        verify(built.artifact, built.sha256)
        s3 = boto3.client("s3", region_name=args.region)
        ssm = boto3.client("ssm", region_name=args.region)
        record = publish(built, args.bucket, args.prefix, s3, ssm)
        print(f"published {record['version']}: {record['artifact']} ({record['sha256'][:12]})")
        return 0
    if args.command == "verify":
        verify(args.artifact, args.artifact.with_name(args.artifact.name + ".sha256").read_text())
        print(f"{args.artifact.name}: SHA-256 matches")
        return 0
    apply_wheels = sorted(args.apply_wheels.glob("*.whl")) or download_apply_toolchain(
        REPO, args.apply_wheels
    )
    built = build(
        args.version, args.out, args.host_wheels, apply_wheels, args.carry_limit_mb, lab=args.lab
    )
    size = built.artifact.stat().st_size / 1024 / 1024
    print(f"{built.artifact} ({size:.0f} MiB) sha256 {built.sha256}\n{built.manifest}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
