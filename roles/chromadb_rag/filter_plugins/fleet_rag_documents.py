"""Which documents of the corpus the rag-node lacks or holds otherwise, computed on the controller
(where the corpus is) from one listing of the host's folder: the role copies the folder only when
this is not empty. A copy of the folder checks each file with remote calls of its own - seconds
for a handful of documents, minutes for a real corpus - on every run that changes nothing."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable, Mapping
from typing import Any


def _sha1(path: str) -> str:
    digest = hashlib.sha1(usedforsecurity=False)
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def fleet_rag_documents_to_ship(
    found: Iterable[Mapping[str, Any]], src: str, dest: str, owner: str, group: str
) -> list[str]:
    """The corpus entries (paths inside src, folders included) that the host's folder dest lacks
    or holds with other content, kind, owner, group or mode. found: ansible.builtin.find's files
    for dest (recurse, hidden, file_type any, get_checksum)."""
    held = {os.path.relpath(str(entry["path"]), dest): entry for entry in found}
    stale: list[str] = []
    for root, folders, files in os.walk(src):
        for name in [*folders, *files]:
            path = os.path.join(root, name)
            relative = os.path.relpath(path, src)
            entry = held.get(relative)
            folder = os.path.isdir(path)
            # The copy's mode u=rwX,g=rX,o=: folders and executables 0750, other files 0640.
            mode = "0750" if folder or os.access(path, os.X_OK) else "0640"
            if (
                entry is None
                or bool(entry.get("isdir")) != folder
                or entry.get("mode") != mode
                or entry.get("pw_name") != owner
                or entry.get("gr_name") != group
                or (not folder and entry.get("checksum") != _sha1(path))
            ):
                stale.append(relative)
    return sorted(stale)


class FilterModule:
    def filters(self) -> dict[str, Any]:
        return {"fleet_rag_documents_to_ship": fleet_rag_documents_to_ship}
