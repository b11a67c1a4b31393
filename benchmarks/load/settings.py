"""Open WebUI's performance settings one by one, each against the role's own, in one run: the same
load (--users streams without think time on --path, pinned to one gpu-node with one worker on
core 0, the rest of the lab and the load generator on core 1, as the knee runs) with the role's
settings, then with each setting in turn, then with the role's again (the run's own spread).
Prints per run the time to first token, tokens/s and the host's CPU time per answer, and writes
artifacts/load/<name>/settings.csv; asserts nothing. Needs a lab (`make lab`).

    .venv/bin/python -m benchmarks.load.settings --path api --users 40
    .venv/bin/python -m benchmarks.load.settings --path page --users 8
    .venv/bin/python -m benchmarks.load.settings --path api --setting MODELS_CACHE_TTL=300
"""

from __future__ import annotations

import argparse
import csv
import re
import sys
from dataclasses import asdict

from benchmarks.load.accounts import admin_token, ensure_accounts
from benchmarks.load.run import (
    ADMIN_EMAIL,
    NO_CAPACITY_LIMIT,
    NO_PERSON_LIMITS,
    NO_SLOT_LIMIT,
    OUT,
    PASSWORD,
    USER_CLASSES,
    Lab,
    Step,
    cores_apart,
    measured_step,
)
from lab.units import open_webui_url, pace, set_environment

# What each path's run measures by default (Open WebUI 0.12.4's defaults: 1, False, 60, 1, True,
# True): the model list's caches and the users' active-status writes act on both paths; the
# answer's events and the websocket's compression on the page's socket.io; the responses'
# compression on HTTP (the load balancer in front).
SETTINGS = {
    "api": [
        "MODELS_CACHE_TTL=300",
        "ENABLE_BASE_MODELS_CACHE=True",
        "DATABASE_USER_ACTIVE_STATUS_UPDATE_INTERVAL=300",
        "ENABLE_COMPRESSION_MIDDLEWARE=False",
    ],
    "page": [
        "MODELS_CACHE_TTL=300",
        "ENABLE_BASE_MODELS_CACHE=True",
        "DATABASE_USER_ACTIVE_STATUS_UPDATE_INTERVAL=300",
        "CHAT_RESPONSE_STREAM_DELTA_CHUNK_SIZE=4",
        "UVICORN_WS_PER_MESSAGE_DEFLATE=False",
        "ENABLE_COMPRESSION_MIDDLEWARE=False",
    ],
}
SETTING = re.compile(r"^[A-Z][A-Z0-9_]*=\S+$")
# The role's settings, with the host's capacity and the people's limits out of the way.
UNLIMITED = {
    "UVICORN_WORKERS": "1",
    "FLEET_GATE_CAPACITY": str(NO_CAPACITY_LIMIT),
    "FLEET_GATE_LIMITS": NO_PERSON_LIMITS,
}


def cpu_ms_per_answer(step: Step) -> float:
    """The host's CPU time per answer delivered (all its processes)."""
    return round(step.host_cpu_percent * 10 / step.answers_per_s, 1) if step.answers_per_s else 0


def line(label: str, step: Step, base: Step) -> str:
    change = (step.tokens_per_s / base.tokens_per_s - 1) * 100 if base.tokens_per_s else 0
    return (
        f"{label:50s} ttft p50/p95 {step.ttft_p50:5.0f}/{step.ttft_p95:5.0f} ms, "
        f"{step.tokens_per_s:5.0f} tokens/s ({change:+4.0f} %), "
        f"host CPU {step.host_cpu_percent:3.0f} % = {cpu_ms_per_answer(step):5.1f} ms per answer, "
        f"{step.errors} errors"
    )


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--path", choices=sorted(USER_CLASSES), default="api")
    parser.add_argument("--users", type=int, default=40, help="concurrent streams")
    parser.add_argument("--seconds", type=int, default=30)
    parser.add_argument(
        "--setting", action="append", help="NAME=VALUE, repeatable (default: the path's list)"
    )
    parser.add_argument("--name", help="the artifacts folder's name (default settings-<path>)")
    parser.add_argument("--rate", type=float, default=20, help="the stand-in's tokens/s per stream")
    parser.add_argument("--tokens", type=int, default=80, help="the stand-in's answer length")
    args = parser.parse_args(argv)
    chosen = args.setting or SETTINGS[args.path]
    for setting in chosen:
        if not SETTING.match(setting):
            parser.error(f"--setting {setting!r}: expected NAME=VALUE")
    runs: list[tuple[str, dict[str, str]]] = [("the role's settings", {})]
    runs += [(s, dict([s.split("=", 1)])) for s in chosen]
    runs.append(("the role's settings again", {}))

    lab = Lab.find()
    host = sorted(lab.gpu_nodes)[0]
    out = OUT / (args.name or f"settings-{args.path}")
    token = admin_token(lab.url, ADMIN_EMAIL, lab.admin_password)
    ensure_accounts(lab.inside, token, args.users, PASSWORD)
    pace(host, args.rate, args.tokens, NO_SLOT_LIMIT)  # the model's slots out of the way
    rows: list[tuple[str, Step]] = []
    with cores_apart(lab, host):
        for number, (label, setting) in enumerate(runs):
            url = open_webui_url(host)
            set_environment(host, "open-webui.service", "tuning", UNLIMITED | setting, url)
            step = measured_step(lab, host, out / f"run-{number}", args.users, args.seconds,
                                 args.path)  # fmt: skip
            rows.append((label, step))
            print(line(label, step, rows[0][1]), flush=True)
    with (out / "settings.csv").open("w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(["setting", *asdict(rows[0][1]), "cpu_ms_per_answer"])
        for label, step in rows:
            writer.writerow([label, *asdict(step).values(), cpu_ms_per_answer(step)])
    print(f"settings ({args.path}, {args.users} streams): {out / 'settings.csv'}")


if __name__ == "__main__":
    main(sys.argv[1:])
