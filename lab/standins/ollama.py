"""Pack the Ollama-API-compatible TEST STAND-IN (tests/fixtures/ollama_standin/ollama, not
Ollama) in the layout of Ollama's Linux release archive: bin/ollama and lib/ollama/.

    python -m lab.standins.ollama VERSION [VERSION...]

writes .cache/ollama-standin/ollama-linux-amd64-VERSION.tgz and its .sha256 beside it.
The archive is reproducible: the same version always gives the same bytes."""

from __future__ import annotations

import gzip
import io
import sys
import tarfile
from pathlib import Path

from fleetlib.paths import CACHE, REPO
from lab.standins import write_checksum

SOURCE = REPO / "tests" / "fixtures" / "ollama_standin" / "ollama"
OUT = CACHE / "ollama-standin"
NOTE = b"This archive holds a test stand-in for Ollama, built by llm-fleet's tests.\n"


def build(version: str) -> Path:
    script = (
        SOURCE.read_text()
        .replace('VERSION = "0.0.0-standin"', f'VERSION = "{version}"', 1)
        .encode()
    )
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, data, mode in (
            ("bin", None, 0o755),
            ("bin/ollama", script, 0o755),
            ("lib", None, 0o755),
            ("lib/ollama", None, 0o755),
            ("lib/ollama/STANDIN.txt", NOTE, 0o644),
        ):
            info = tarfile.TarInfo(name)
            info.mode, info.mtime, info.uid, info.gid = mode, 0, 0, 0
            if data is None:
                info.type = tarfile.DIRTYPE
                tar.addfile(info)
            else:
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
    OUT.mkdir(parents=True, exist_ok=True)
    archive = OUT / f"ollama-linux-amd64-{version}.tgz"
    archive.write_bytes(gzip.compress(buffer.getvalue(), mtime=0))
    write_checksum(archive)
    return archive


def main(argv: list[str]) -> int:
    if not argv:
        print(__doc__, file=sys.stderr)
        return 2
    for version in argv:
        print(build(version))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
