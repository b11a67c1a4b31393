"""The grounded prompt and the Sources list that closes every answer."""

from __future__ import annotations

import re
from collections.abc import Sequence

from fleet_rag.documents import cite
from fleet_rag.store import Match

SYSTEM = (
    "You answer questions using only the numbered context passages below. "
    "Cite passages by their number in square brackets, like [1]. If the passages do not "
    "contain the answer, say that the documents do not cover it."
)


def grounded_messages(
    messages: Sequence[dict[str, str]], matches: Sequence[Match]
) -> list[dict[str, str]]:
    """The conversation with a system message carrying the retrieved passages."""
    if matches:
        context = "\n\n".join(
            f"[{i}] ({cite(m.metadata)})\n{m.text}" for i, m in enumerate(matches, start=1)
        )
    else:
        context = "(no passage in the documents is similar enough to the question)"
    system = {"role": "system", "content": f"{SYSTEM}\n\nContext:\n{context}"}
    rest = [dict(m) for m in messages if m.get("role") != "system"]
    return [system, *rest]


CITATION = re.compile(r"\[(\d+)\]")


def cited(matches: Sequence[Match], answer: str) -> list[Match]:
    """The passages the answer cites by number ([2]), in the order of their numbers; all of
    them when it cites none (a model that does not cite still used the context it was given)."""
    numbers = sorted({int(n) for n in CITATION.findall(answer) if 1 <= int(n) <= len(matches)})
    return [matches[n - 1] for n in numbers] if numbers else list(matches)


def sources_block(matches: Sequence[Match]) -> str:
    if not matches:
        return "\n\nSources: none (no document passage matched the question)."
    seen: list[str] = []
    for match in matches:
        citation = cite(match.metadata)
        if citation not in seen:
            seen.append(citation)
    lines = [f"{i}. {citation}" for i, citation in enumerate(seen, start=1)]
    return "\n\nSources:\n" + "\n".join(lines)


def last_user_message(messages: Sequence[dict[str, str]]) -> str:
    for message in reversed(messages):
        if message.get("role") == "user" and message.get("content", "").strip():
            return message["content"]
    return ""
