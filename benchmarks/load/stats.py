"""What a load run measured: Locust's per-request statistics (its CSV), the inter-token gaps'
histogram the users keep, and percentiles of both."""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# Gap buckets: 2 % wide from 0.1 ms to about 2 minutes (log scale), so a percentile is exact to
# within 2 %.
_BASE, _FIRST = 1.02, 1e-4


@dataclass
class GapHistogram:
    counts: dict[int, int] = field(default_factory=dict)

    def add(self, seconds: float) -> None:
        index = 0 if seconds <= _FIRST else int(math.log(seconds / _FIRST, _BASE)) + 1
        self.counts[index] = self.counts.get(index, 0) + 1

    def total(self) -> int:
        return sum(self.counts.values())

    def percentile(self, share: float) -> float:
        """The gap (seconds) under which `share` (0-1) of the gaps fall; 0 when there are none."""
        wanted, seen = share * self.total(), 0
        for index in sorted(self.counts):
            seen += self.counts[index]
            if seen >= wanted and seen:
                return _FIRST * _BASE**index
        return 0.0

    def to_json(self) -> dict[str, int]:
        return {str(k): v for k, v in self.counts.items()}

    @classmethod
    def from_json(cls, data: dict[str, int]) -> GapHistogram:
        return cls({int(k): v for k, v in data.items()})


@dataclass(frozen=True)
class RequestStats:
    """One row of Locust's *_stats.csv (milliseconds)."""

    name: str
    requests: int
    failures: int
    p50: float
    p95: float
    p99: float
    rps: float


def locust_stats(prefix: Path) -> dict[str, RequestStats]:
    """Locust's statistics per request name (`--csv prefix`), "Aggregated" included."""
    rows: dict[str, RequestStats] = {}
    with Path(f"{prefix}_stats.csv").open() as file:
        for row in csv.DictReader(file):
            rows[row["Name"]] = RequestStats(
                name=row["Name"],
                requests=int(row["Request Count"]),
                failures=int(row["Failure Count"]),
                p50=number(row["50%"]),
                p95=number(row["95%"]),
                p99=number(row["99%"]),
                rps=number(row["Requests/s"]),
            )
    return rows


def locust_failures(prefix: Path) -> list[dict[str, Any]]:
    path = Path(f"{prefix}_failures.csv")
    if not path.exists():
        return []
    with path.open() as file:
        return list(csv.DictReader(file))


def number(text: str) -> float:
    return float(text) if text not in ("", "N/A") else 0.0
