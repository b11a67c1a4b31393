"""Pack a TEST STAND-IN as a Debian package with the real package's name and layout, for what
cannot be downloaded on the test machines (AWS's agents). Reproducible: the same inputs give the
same bytes, with a .sha256 beside the package (the roles' checksum variables read it)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from lab.standins import write_checksum

CONTROL = """Package: {package}
Version: {version}
Architecture: amd64
Maintainer: llm-fleet tests <tests@llm-fleet.invalid>
Depends: python3, systemd
Section: admin
Priority: optional
Description: TEST STAND-IN for {real} (built by llm-fleet's tests)
 {summary}
"""
POSTINST = "#!/bin/sh\nset -e\nsystemctl daemon-reload || true\n"


def pack(
    package: str,
    version: str,
    real: str,
    summary: str,
    files: Mapping[Path, tuple[Path | str, int]],
    out: Path,
    folders: Sequence[Path] = (),
) -> Path:
    """out/<package>_<version>_amd64.deb holding files ({path in the package: (source file or
    text, mode)}) and the empty folders."""
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "root"
        for target, (source, mode) in files.items():
            (root / target).parent.mkdir(parents=True, exist_ok=True)
            if isinstance(source, Path):
                shutil.copyfile(source, root / target)
            else:
                (root / target).write_text(source)
            (root / target).chmod(mode)
        for folder in folders:
            (root / folder).mkdir(parents=True, exist_ok=True)
        debian = root / "DEBIAN"
        debian.mkdir()
        (debian / "control").write_text(
            CONTROL.format(package=package, version=version, real=real, summary=summary)
        )
        (debian / "postinst").write_text(POSTINST)
        (debian / "postinst").chmod(0o755)
        for path in [root, *root.rglob("*")]:
            os.utime(path, (0, 0), follow_symlinks=False)
        out.mkdir(parents=True, exist_ok=True)
        deb = out / f"{package}_{version}_amd64.deb"
        subprocess.run(
            ["dpkg-deb", "--root-owner-group", "-Zxz", "--build", str(root), str(deb)],
            check=True,
            capture_output=True,
            env={**os.environ, "SOURCE_DATE_EPOCH": "0"},
        )
    write_checksum(deb)
    return deb


def cli(build: Callable[[str], Path], usage: str | None, argv: Sequence[str]) -> int:
    """`python -m lab.standins.<agent> VERSION`: build it, print the package's path."""
    if len(argv) != 1:
        print(usage, file=sys.stderr)
        return 2
    print(build(argv[0]))
    return 0
