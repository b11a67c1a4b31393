"""Lynis's hardening index (Debian's lynis package) of the bare lab image and of a configured lab
host, with the findings that differ. Prints figures (and writes artifacts/bench/lynis.json);
asserts nothing.

    .venv/bin/python -m benchmarks.lynis_index [--host llm-fleet-lab-1]

The bare image runs as a throwaway container (llm-fleet-lynis-bare) from the lab's image; the
host is a lab host after site.yml (`make lab`). Lynis is installed for the audit and purged from
the host afterwards. Both are containers: findings about the boot loader, the kernel's modules,
partitions, auditd or the firewall are the machine's, not the container's, and say nothing of an
EC2 host.
"""

from __future__ import annotations

import argparse
import json
import re
import time

from fleetlib.paths import REPO
from lab.podman import podman, wait_for_systemd

BARE = "llm-fleet-lynis-bare"
IMAGE = "localhost/llm-fleet/debian12-systemd:latest"


def install(host: str) -> None:
    for _ in range(5):
        try:
            podman("exec", host, "sh", "-c", "apt-get update -qq && DEBIAN_FRONTEND=noninteractive"
                   " apt-get install -y -qq lynis >/dev/null")  # fmt: skip
            return
        except RuntimeError:
            time.sleep(10)
    raise SystemExit(f"{host}: could not install lynis")


def audit(host: str) -> dict[str, object]:
    """Lynis on the host: its hardening index, warnings and suggestions (test ids)."""
    out = podman("exec", host, "lynis", "audit", "system", "--quick", "--no-colors")
    index = re.search(r"Hardening index : (\d+)", out)
    report = podman("exec", host, "cat", "/var/log/lynis-report.dat")
    found = {
        kind: sorted({line.split("=", 1)[1].split("|")[0]
                      for line in report.splitlines() if line.startswith(f"{kind}[]=")})
        for kind in ("warning", "suggestion")
    }  # fmt: skip
    return {"index": int(index.group(1)) if index else None, **found}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="llm-fleet-lab-1", help="a lab host after site.yml")
    args = parser.parse_args()
    podman("rm", "-f", BARE, check=False)
    podman("run", "-d", "--name", BARE, IMAGE, "/sbin/init")
    try:
        wait_for_systemd(BARE)
        install(BARE)
        bare = audit(BARE)
    finally:
        podman("rm", "-f", BARE, check=False)
    install(args.host)
    try:
        host = audit(args.host)
    finally:
        podman("exec", args.host, "apt-get", "purge", "-y", "-qq", "lynis", check=False)
    result = {"bare image": bare, args.host: host}
    out = REPO / "artifacts" / "bench" / "lynis.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(
        f"hardening index: bare image {bare['index']}, {args.host} after site.yml {host['index']}"
    )
    for kind in ("warning", "suggestion"):
        gone = sorted(set(bare[kind]) - set(host[kind]))  # type: ignore[arg-type]
        new = sorted(set(host[kind]) - set(bare[kind]))  # type: ignore[arg-type]
        print(f"{kind}s only on the bare image (addressed): {', '.join(gone) or 'none'}")
        print(f"{kind}s only on the host: {', '.join(new) or 'none'}")
    print(f"(written to {out})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
