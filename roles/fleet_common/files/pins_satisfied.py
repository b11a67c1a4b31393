"""Print "satisfied" when every argument is a name==version pin that the running interpreter's
environment already has, "install" otherwise (a missing package, another version, or a spec that
is not a plain pin). The same question the pip module's check mode asks, in a fraction of the
time `pip install` takes to answer it."""

import re
import sys
from importlib import metadata

PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?==([^\s;]+)$")


def satisfied(spec: str) -> bool:
    match = PIN.match(spec.strip())
    if match is None:
        return False
    name, wanted = match.groups()
    try:
        installed = metadata.version(name)
    except metadata.PackageNotFoundError:
        return False
    # A pin without a local label (torch==2.13.0) accepts any local build (2.13.0+cpu), as pip does.
    return installed == wanted or ("+" not in wanted and installed.split("+")[0] == wanted)


print("satisfied" if all(satisfied(spec) for spec in sys.argv[1:]) else "install")
