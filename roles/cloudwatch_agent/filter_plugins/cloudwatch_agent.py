"""Filters that build the CloudWatch agent's config pieces from the role's variables."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

# The prefix CloudWatch metric names get per metrics_collected section (mem → mem_used_percent).
SECTION_PREFIXES = {
    "cpu": "cpu",
    "mem": "mem",
    "disk": "disk",
    "net": "net",
    "nvidia_gpu": "nvidia_smi",
}


def cloudwatch_agent_dimensions(names: Sequence[str]) -> dict[str, str]:
    """append_dimensions: each name filled in by the agent from EC2 metadata (${aws:Name})."""
    return {name: f"${{aws:{name}}}" for name in names}


def cloudwatch_agent_collect_list(
    services: Sequence[str], log_dir: str, group_prefix: str, retention_days: int
) -> list[dict[str, Any]]:
    """logs.logs_collected.files.collect_list: one log group per service, one stream per host."""
    return [
        {
            "file_path": f"{log_dir}/{service}.log",
            "log_group_name": f"{group_prefix}/{service}",
            "log_stream_name": "{instance_id}",
            "retention_in_days": int(retention_days),
        }
        for service in services
    ]


def cloudwatch_agent_metric_names(
    metrics_collected: Mapping[str, Mapping[str, Any]], statsd_metrics: Sequence[str] = ()
) -> list[str]:
    """The metric names CloudWatch receives for a metrics_collected section (sorted): each
    measurement under its section's prefix, and the StatsD gauges under their own names when the
    statsd section is there."""
    names = [
        f"{SECTION_PREFIXES[section]}_{measurement}"
        for section, body in metrics_collected.items()
        for measurement in body.get("measurement", [])
    ]
    if "statsd" in metrics_collected:
        names += statsd_metrics
    return sorted(names)


class FilterModule:
    def filters(self) -> dict[str, Callable[..., Any]]:
        return {
            "cloudwatch_agent_dimensions": cloudwatch_agent_dimensions,
            "cloudwatch_agent_collect_list": cloudwatch_agent_collect_list,
            "cloudwatch_agent_metric_names": cloudwatch_agent_metric_names,
        }
