"""Load tests of the lab fleet through its load balancer (the ALB's stand-in), with Locust. Prints
figures and writes CSVs, Locust's own reports and a chart under artifacts/load/<name>/; asserts
nothing. Needs a lab (`make lab`); the model is the Ollama TEST STAND-IN, paced to stream like a
GPU (tokens/s per stream, answer length), so the fleet's own path is measured apart from a model.

  knee      one gpu-node, cores pinned apart (one worker: that host on core 0; the load generator,
            the load balancer, PostgreSQL and Redis on core 1; --workers 2: the host on both
            cores, the load generator niced): for each step of concurrent streams (users
            without think time), time to first token, inter-token gaps, errors, tokens/s and the
            hosts' CPU and memory; then the same load sent straight to the stand-in (from the
            host's network namespace: Ollama listens on its loopback) - the front end's overhead.
            The knee: the most streams with p95 time to first token within --bound-ms, 0 errors.
  failover  users streaming on both gpu-nodes; one is stopped (podman stop; --abrupt: podman kill,
            as an instance that dies) mid-run: the streams
            cut at that moment, failures after, the time until every user is served again, and
            every account and chat still there afterwards. The host is started again.
  fairness  one person with many streams beside people with one each: their answers and refusals.
  profile   py-spy samples the host's Open WebUI under load: where a request's time goes.
  smoke     a short load (default 20 users, 30 s): what `make test` runs.

    .venv/bin/python -m benchmarks.load.run knee --steps 10,20,40,80 --seconds 40
    .venv/bin/python -m benchmarks.load.run failover --users 40 --seconds 90
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from benchmarks.load.accounts import account_email, admin_token, call, ensure_accounts
from benchmarks.load.chart import line_chart
from benchmarks.load.hosts import Sample, pin, pin_self, process_cpu_seconds, sample
from benchmarks.load.stats import GapHistogram, RequestStats, locust_failures, locust_stats
from fleetlib.paths import REPO, venv_bin
from fleetlib.wiring import admin_email, wired
from lab.config import LOAD_BALANCER_HOST, lab_network
from lab.podman import halt, podman
from lab.state import LabState
from lab.units import clear, open_webui_url, pace, set_environment, unpace, wait_answers

OUT = REPO / "artifacts" / "load"
LOCUSTFILE = Path(__file__).with_name("locustfile.py")
DIRECT = Path(__file__).with_name("direct.py")
ADMIN_EMAIL = admin_email()
PASSWORD = "load-test-Pa55word"  # the load-test accounts' (ordinary users of a lab)
MODEL = "llama3.2:1b"
# The load's path (locustfile.py): the API's streamed response, or the chat page's socket.io.
USER_CLASSES = {"api": "ChatUser", "page": "PageUser"}
# Users spawned per second in a measured run: each signs in (a password hash on the host).
SPAWN_RATE = 10
# The longest a measured run waits for its users to sign in before it measures anyway.
SIGN_IN_WAIT = 300
# Not measured, after the last sign-in: the herd of first questions (the sign-ins, sharing the
# host's cores, end together), and those refused in it coming back after Retry-After (5 s, with
# up to 50 % jitter).
SETTLE_SECONDS = 10
# Out of the way in a run that measures the front end: the stand-in's slots, the gate's capacity
# and each person's limits.
NO_SLOT_LIMIT = 1000
NO_CAPACITY_LIMIT = 10**6
NO_PERSON_LIMITS = json.dumps({"concurrent": 10**6, "per_minute": 10**6})


@dataclass
class Lab:
    url: str
    gpu_nodes: dict[str, str]  # container name -> instance id
    containers: list[str]
    admin_password: str

    @classmethod
    def find(cls) -> Lab:
        state = LabState.load()
        if state is None:
            raise SystemExit("no lab: `make lab` first")
        gpu = {h.name: h.instance_id for h in state.hosts if h.role == "gpu-node"}
        password = podman("exec", next(iter(gpu)), "cat", "/etc/open-webui/admin-password")
        return cls(
            url=f"http://{lab_network().load_balancer_address}",
            gpu_nodes=gpu,
            containers=[h.name for h in state.hosts] + state.services,
            admin_password=password.strip(),
        )

    @property
    def inside(self) -> str:
        """A gpu-node's own address, as seen from inside the VPC: the load-test accounts are made
        there, because through the load balancer a fleet with single sign-on creates no account
        (docs/identity.md). They then sign in through the load balancer like the admin."""
        return open_webui_url(sorted(self.gpu_nodes)[0]).removesuffix("/health")


@dataclass
class Step:
    """One load step's figures (milliseconds unless named otherwise)."""

    users: int
    answers: int
    errors: int
    ttft_p50: float
    ttft_p95: float
    ttft_p99: float
    gap_p95: float
    answer_p50: float
    tokens_per_s: float
    answers_per_s: float
    host_cpu_percent: float
    host_memory_mib: float
    others_cpu_percent: float
    generator_cpu_percent: float
    # Refusals with Retry-After (a busy host's 503, a person's 429): how many, how fast.
    refused: int = 0
    refused_p95: float = 0


def locust(
    lab: Lab, out: Path, users: int, seconds: int, measured: bool = False,
    on_measuring: Callable[[], None] | None = None, path: str = "api", **env: str,
) -> dict[str, Any]:  # fmt: skip
    """One headless Locust run; returns the users' result file (histogram, counts, seconds).
    measured: users are spawned at SPAWN_RATE (each signs in) and the figures count only what
    follows SETTLE_SECONDS after every user has signed in, for `seconds` (on_measuring is called
    then); otherwise the whole run counts."""
    out.mkdir(parents=True, exist_ok=True)
    result = out / "result.json"
    result.unlink(missing_ok=True)
    measuring = Path(f"{result}.measuring")
    measuring.unlink(missing_ok=True)
    rate = SPAWN_RATE if measured else max(users / 5, 1)
    # Measured: the run stops itself `seconds` after the last sign-in (this is a bound).
    limit = seconds + SIGN_IN_WAIT + SETTLE_SECONDS if measured else seconds
    command = [
        str(venv_bin("locust")), "-f", str(LOCUSTFILE), "--headless", "--host", lab.url,
        "--users", str(users), "--spawn-rate", str(rate),
        "--run-time", f"{limit}s", "--stop-timeout", "60", "--only-summary",
        "--csv", str(out / "locust"), "--html", str(out / "locust.html"), USER_CLASSES[path],
    ]  # fmt: skip
    environment = {**os.environ, "PYTHONPATH": str(REPO), "LOAD_PASSWORD": PASSWORD,
                   "LOAD_ACCOUNTS": str(users), "LOAD_MODEL": MODEL,
                   "LOAD_MEASURE_AFTER_SPAWN": "1" if measured else "0",
                   "LOAD_MEASURE_SECONDS": str(seconds),
                   "LOAD_SETTLE_SECONDS": str(SETTLE_SECONDS),
                   "LOAD_RESULT_FILE": str(result), **env}  # fmt: skip
    with (out / "locust.log").open("w") as log:
        proc = subprocess.Popen(command, env=environment, stdout=log, stderr=subprocess.STDOUT)
        generator = 0.0
        if on_measuring is not None:
            deadline = time.monotonic() + SIGN_IN_WAIT + SETTLE_SECONDS
            while not measuring.exists() and proc.poll() is None and time.monotonic() < deadline:
                time.sleep(0.2)
            on_measuring()
            generator = process_cpu_seconds(proc.pid)
            time.sleep(seconds - 2)
            generator = process_cpu_seconds(proc.pid) - generator
        try:
            proc.wait(timeout=limit + 180)
        finally:
            proc.kill()
    if not result.exists():
        raise SystemExit(f"locust wrote no result ({proc.returncode}): see {out / 'locust.log'}")
    data: dict[str, Any] = json.loads(result.read_text())
    data["generator_cpu_percent"] = round(generator / max(seconds - 2, 1) * 100, 1)
    return data


def cpu_percent(
    before: dict[str, Sample], after: dict[str, Sample], name: str, seconds: float
) -> float:
    """The CPU a container used between two samples, in % of one core."""
    return (after[name].cpu_seconds - before[name].cpu_seconds) / seconds * 100


def step_figures(
    users: int, out: Path, result: dict[str, Any], seconds: float,
    before: dict[str, Sample], after: dict[str, Sample], host: str,
) -> Step:  # fmt: skip
    stats = locust_stats(out / "locust")
    first, whole = stats.get("first token"), stats.get("whole answer")
    refused = stats.get("refused")
    gaps = GapHistogram.from_json(result["gaps"])
    errors = result["signin_failed"] + sum(
        row.failures for name, row in stats.items() if name != "Aggregated"
    )
    others = sum(after[n].cpu_seconds - before[n].cpu_seconds for n in after if n != host)
    return Step(
        users=users,
        answers=result["answers"],
        errors=errors,
        ttft_p50=first.p50 if first else 0,
        ttft_p95=first.p95 if first else 0,
        ttft_p99=first.p99 if first else 0,
        gap_p95=round(gaps.percentile(0.95) * 1000, 1),
        answer_p50=whole.p50 if whole else 0,
        tokens_per_s=round(result["tokens"] / seconds, 1),
        answers_per_s=round(result["answers"] / seconds, 2),
        host_cpu_percent=round(cpu_percent(before, after, host, seconds), 1),
        host_memory_mib=round(after[host].memory_bytes / 2**20),
        others_cpu_percent=round(others / seconds * 100, 1),
        generator_cpu_percent=result["generator_cpu_percent"],
        refused=result.get("busy", 0),
        refused_p95=refused.p95 if refused else 0,
    )


def measured_step(lab: Lab, host: str, out: Path, users: int, seconds: int, path: str) -> Step:
    """`users` streams without think time on `path`, pinned by cookie to `host`, measured for
    `seconds` once all have signed in: the step's figures, the hosts' CPU sampled meanwhile."""
    samples: list[dict[str, Sample]] = []
    result = locust(lab, out, users, seconds, measured=True,
                    on_measuring=lambda: samples.append(sample(lab.containers)),
                    path=path, LOAD_COOKIE=lab.gpu_nodes[host])  # fmt: skip
    return step_figures(users, out, result, result["seconds"], samples[0],
                        sample(lab.containers), host)  # fmt: skip


@contextmanager
def cores_apart(lab: Lab, host: str, workers: int = 1) -> Iterator[None]:
    """A measured run's cores. One worker: the host on core 0, everything else (the other
    containers, this process and the load generator it starts) on core 1. Two: the host on both
    cores, which it shares with the rest; the load generator then yields to it (nice 10).
    Afterwards every container on both cores again, and the host's stand-in and Open WebUI as
    site.yml set them (the run's pace and tuning cleared)."""
    host_cores, other_cores = ("0", "1") if workers == 1 else ("0-1", "0-1")
    for name in lab.containers:
        pin(name, host_cores if name == host else other_cores)
    if workers == 1:
        pin_self({1})
    else:
        os.nice(10)
    try:
        yield
    finally:
        for name in lab.containers:
            pin(name, "0-1")
        unpace(host)
        clear(host, "open-webui.service", "tuning", open_webui_url(host))


def direct(host: str, users: int, seconds: int, core: int) -> dict[str, float]:
    """The same load straight to the stand-in, from the host's network namespace (its loopback),
    the load generator on `core` (outside the host's cgroup)."""
    pid = podman("inspect", "-f", "{{.State.Pid}}", host).strip()
    url = f"http://127.0.0.1:{wired('ollama_port')}"
    proc = subprocess.run(
        ["taskset", "-c", str(core), "nsenter", "-t", pid, "-n", sys.executable, str(DIRECT),
         url, MODEL, str(users), str(seconds)],
        capture_output=True, text=True, timeout=seconds + 400, check=True,
    )  # fmt: skip
    figures: dict[str, float] = json.loads(proc.stdout)
    return figures


def knee(args: argparse.Namespace) -> None:
    lab = Lab.find()
    host = sorted(lab.gpu_nodes)[0]
    out = OUT / args.name
    steps = [int(s) for s in args.steps.split(",")]
    token = admin_token(lab.url, ADMIN_EMAIL, lab.admin_password)
    ensure_accounts(lab.inside, token, max(steps), PASSWORD)
    # The front end's own knee: the model's slots and the gate's limits out of the way unless
    # the run sets them (--slots, --capacity: the limit in the model or in the gate).
    pace(host, args.rate, args.tokens, args.slots)
    tuning = {
        "UVICORN_WORKERS": str(args.workers),
        "FLEET_GATE_CAPACITY": str(args.capacity),
        "FLEET_GATE_LIMITS": NO_PERSON_LIMITS,
    }
    tuning |= dict(item.split("=", 1) for item in args.webui_env.split(",") if item)
    set_environment(host, "open-webui.service", "tuning", tuning, open_webui_url(host))
    rows: list[tuple[Step, dict[str, float]]] = []
    with cores_apart(lab, host, args.workers):
        for users in steps:
            step = measured_step(lab, host, out / f"users-{users}", users, args.seconds, args.path)
            straight = direct(host, users, args.seconds, core=1)
            rows.append((step, straight))
            print(
                f"{users:5d} streams: ttft p50/p95/p99 {step.ttft_p50:.0f}/{step.ttft_p95:.0f}/"
                f"{step.ttft_p99:.0f} ms, gap p95 {step.gap_p95:.0f} ms, {step.errors} errors, "
                f"{step.tokens_per_s:.0f} tokens/s, host CPU {step.host_cpu_percent:.0f} % of "
                f"core 0, {step.host_memory_mib:.0f} MiB, other lab hosts "
                f"{step.others_cpu_percent:.0f} %, load generator "
                f"{step.generator_cpu_percent:.0f} %, refused {step.refused} (p95 "
                f"{step.refused_p95:.0f} ms)"
                f" | straight to the stand-in: ttft p95 "
                f"{straight['ttft_p95_ms']:.0f} ms, {straight['tokens_per_s']:.0f} tokens/s",
                flush=True,
            )
    write_knee(out, rows, args.bound_ms)


def write_knee(out: Path, rows: list[tuple[Step, dict[str, float]]], bound: float) -> None:
    with (out / "knee.csv").open("w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow([*asdict(rows[0][0]), "direct_ttft_p95", "direct_tokens_per_s",
                         "ttft_p95_ratio", "tokens_per_s_ratio"])  # fmt: skip
        for step, straight in rows:
            ttft, tokens = straight["ttft_p95_ms"], straight["tokens_per_s"]
            ratios = [ratio(step.ttft_p95, ttft), ratio(step.tokens_per_s, tokens)]
            writer.writerow([*asdict(step).values(), ttft, tokens, *ratios])
    xs = [float(step.users) for step, _ in rows]
    line_chart(
        out / "knee.png", f"One gpu-node on one core: time to first token ({out.name})",
        "concurrent streams", "ms",
        xs, {"p95 through the load balancer": [s.ttft_p95 for s, _ in rows],
             "p50 through the load balancer": [s.ttft_p50 for s, _ in rows],
             "p95 straight to the stand-in": [d["ttft_p95_ms"] for _, d in rows]},
        bound=bound,
    )  # fmt: skip
    within = []
    for step, _ in rows:  # the steps up to the first one past the bound
        if step.answers < step.users or step.errors or step.ttft_p95 > bound:
            break
        within.append(step.users)
    print(f"knee ({out.name}): {within[-1] if within else 'below ' + str(rows[0][0].users)}"
          f" concurrent streams with p95 time to first token <= {bound:.0f} ms and 0 errors;"
          f" {out / 'knee.csv'}, {out / 'knee.png'}")  # fmt: skip


def ratio(a: float, b: float) -> float:
    return round(a / b, 2) if b else 0.0


ANSWER_ROWS = ("answer", "first token", "whole answer", "refused")


def fairness(args: argparse.Namespace) -> None:
    """One person with `heavy` streams at once beside `light` people with one each, the people's
    limits the role's, on one host (pinned by cookie) or spread over all gpu-nodes; before it,
    in the same set-up, the `light` people alone: what the heavy one changes for them."""
    lab = Lab.find()
    out = OUT / args.name
    token = admin_token(lab.url, ADMIN_EMAIL, lab.admin_password)
    ensure_accounts(lab.inside, token, args.light + 1, PASSWORD)
    hosts = sorted(lab.gpu_nodes)[: args.hosts]
    # The hosts' capacity for the run (the lab's g5.xlarge capacity is sized for a GPU's pace,
    # not the stand-in's), the people's limits the role's.
    for host in lab.gpu_nodes:
        pace(host, args.rate, args.tokens, args.slots)
        capacity = {"FLEET_GATE_CAPACITY": str(args.capacity)}
        set_environment(host, "open-webui.service", "tuning", capacity, open_webui_url(host))
    pinned = {"LOAD_COOKIE": lab.gpu_nodes[hosts[0]]} if args.hosts == 1 else {}
    # The restarts just made: a run that began before the load balancer saw them all healthy
    # again would put its users on the hosts that came back first.
    in_service(list(lab.gpu_nodes.values()))
    report: dict[str, Any] = {"hosts": args.hosts, "path": args.path}
    cpu: dict[str, dict[str, float]] = {}

    def run(name: str, out: Path, users: int, **env: str) -> dict[str, Any]:
        """One measured run, with the CPU the hosts and the load generator used in it."""
        samples: list[dict[str, Sample]] = []
        result = locust(lab, out, users, args.seconds, measured=True, path=args.path,
                        on_measuring=lambda: samples.append(sample(lab.containers)),
                        **pinned, **env)  # fmt: skip
        after = sample(lab.containers)
        seconds = max(result["seconds"], 1)
        cpu[name] = {"generator": result["generator_cpu_percent"]} | {
            host: round(cpu_percent(samples[0], after, host, seconds)) for host in hosts
        }
        return result

    try:
        run("light alone", out / "light-alone", args.light, LOAD_ACCOUNTS=str(args.light))
        result = run("with the heavy one", out, args.heavy + args.light,
                     LOAD_HEAVY=str(args.heavy), LOAD_ACCOUNTS=str(args.light + 1))  # fmt: skip
    finally:
        for host in lab.gpu_nodes:
            unpace(host)
            clear(host, "open-webui.service", "tuning", open_webui_url(host))
    report["seconds"] = result["seconds"]
    stats = locust_stats(out / "locust")
    report["light"] = people_figures(stats, "")
    report["heavy"] = people_figures(stats, " (heavy)")
    report["light_alone"] = people_figures(locust_stats(out / "light-alone" / "locust"), "")
    # CPU % of one core: the load generator and each host, in each run.
    report["cpu_percent"] = cpu
    (out / "fairness.json").write_text(json.dumps(report, indent=2))
    print(json.dumps(report), flush=True)


def people_figures(stats: dict[str, RequestStats], label: str) -> dict[str, float]:
    """The answers, failures, first token p95 and refusals of the users whose rows carry label."""
    first, refused = stats.get(f"first token{label}"), stats.get(f"refused{label}")
    whole = stats.get(f"whole answer{label}")
    return {
        "answers": whole.requests - whole.failures if whole else 0,
        "failures": sum(stats[f"{name}{label}"].failures for name in ANSWER_ROWS
                        if f"{name}{label}" in stats),
        "ttft_p95_ms": first.p95 if first else 0,
        "refused": refused.requests if refused else 0,
        "refused_p95_ms": refused.p95 if refused else 0,
    }  # fmt: skip


def profile(args: argparse.Namespace) -> None:
    """py-spy samples the host's Open WebUI (one worker, on core 0) while `users` ask without
    pause for answers of --tokens tokens (one by default: a request is then all the path before
    its first token - authentication, the model list, the chat's database work); writes the
    samples (py-spy's raw format) and the event loop's top frames, by the share of its samples
    they were on the stack (inclusive) and at its top (self)."""
    lab = Lab.find()
    host = sorted(lab.gpu_nodes)[0]
    out = OUT / args.name
    out.mkdir(parents=True, exist_ok=True)
    token = admin_token(lab.url, ADMIN_EMAIL, lab.admin_password)
    ensure_accounts(lab.inside, token, args.users, PASSWORD)
    pace(host, args.rate, args.tokens)
    tuning = {"UVICORN_WORKERS": "1", "FLEET_GATE_CAPACITY": str(NO_CAPACITY_LIMIT),
              "FLEET_GATE_LIMITS": NO_PERSON_LIMITS}  # fmt: skip
    set_environment(host, "open-webui.service", "tuning", tuning, open_webui_url(host))
    samples = out / "profile.txt"
    recorders: list[threading.Thread] = []

    def record() -> None:
        subprocess.run(
            [str(venv_bin("py-spy")), "record", "--pid", webui_pid(host), "--rate", "100",
             "--duration", str(args.seconds - 5), "--format", "raw", "--nonblocking",
             "--output", str(samples)],
            check=True, capture_output=True, timeout=args.seconds + 60,
        )  # fmt: skip

    def start() -> None:
        recorders.append(threading.Thread(target=record, daemon=True))
        recorders[0].start()

    with cores_apart(lab, host):
        locust(lab, out, args.users, args.seconds, measured=True, on_measuring=start,
               path=args.path, LOAD_COOKIE=lab.gpu_nodes[host])  # fmt: skip
        for recorder in recorders:
            recorder.join(timeout=120)
    top = top_frames(samples.read_text(), args.top)
    (out / "top-frames.txt").write_text(top)
    print(top, flush=True)


def webui_pid(host: str) -> str:
    """The process id, on this machine, of the host's Open WebUI (one worker: its only one)."""
    for line in podman("top", host, "hpid", "args").splitlines()[1:]:
        pid, _, command = line.strip().partition(" ")
        if "fleet_gate.py" in command:
            return pid
    raise SystemExit(f"no Open WebUI process on {host}")


# The event loop's thread (uvicorn's server) - where a request waits for its turn; the thread
# pool's idle workers, sampled as well, would drown it.
EVENT_LOOP = "Server.run (uvicorn/server.py"


def top_frames(raw: str, count: int) -> str:
    """py-spy's raw samples ("frame;frame;... N" per stack) of the event loop's thread as two
    tables: each frame's share of those samples with it anywhere on the stack, and at its top."""
    inclusive: dict[str, int] = {}
    own: dict[str, int] = {}
    total = 0
    for line in raw.splitlines():
        stack, _, number = line.rpartition(" ")
        if EVENT_LOOP not in stack or not number.isdigit():
            continue
        frames, samples = stack.split(";"), int(number)
        total += samples
        for frame in set(frames):
            inclusive[frame] = inclusive.get(frame, 0) + samples
        own[frames[-1]] = own.get(frames[-1], 0) + samples
    lines = [f"{total} samples of the event loop's thread"]
    for title, table in (("on the stack", inclusive), ("at the top", own)):
        lines.append(f"-- {title}")
        ranked = sorted(table.items(), key=lambda item: -item[1])[:count]
        lines += [f"{100 * n / max(total, 1):5.1f} %  {frame}" for frame, n in ranked]
    return "\n".join(lines) + "\n"


def failover(args: argparse.Namespace) -> None:
    lab = Lab.find()
    out = OUT / args.name
    token = admin_token(lab.url, ADMIN_EMAIL, lab.admin_password)
    ensure_accounts(lab.inside, token, args.users, PASSWORD)
    for host in lab.gpu_nodes:
        pace(host, args.rate, args.tokens)
    events = out / "events.jsonl"
    out.mkdir(parents=True, exist_ok=True)
    events.unlink(missing_ok=True)
    victim = sorted(lab.gpu_nodes)[0]
    stopped_at: list[float] = []

    def stop_later() -> None:
        time.sleep(args.stop_after)
        stopped_at.append(time.time())
        # abrupt: the instance dies, every process killed at once; otherwise it shuts down,
        # systemd stopping its services in order
        halt(victim, abrupt=args.abrupt)

    stopper = threading.Thread(target=stop_later, daemon=True)
    stopper.start()
    try:
        result = locust(lab, out, args.users, args.seconds, LOAD_THINK=args.think,
                        LOAD_EVENTS_FILE=str(events))  # fmt: skip
        stopper.join()
    finally:
        podman("start", victim)
    lines = [json.loads(line) for line in events.read_text().splitlines()]
    marked = marked_down(lab.gpu_nodes[victim], stopped_at[0])
    report = failover_report(lines, stopped_at[0], marked, lab.gpu_nodes[victim])
    report["answers"], report["tokens"] = result["answers"], result["tokens"]
    report.update(check_nothing_lost(lab, lines, args.users))
    (out / "failover.json").write_text(json.dumps(report, indent=2) + "\n")
    for host in lab.gpu_nodes:
        wait_answers(host, "open-webui.service", open_webui_url(host))
        unpace(host)
    print(json.dumps(report, indent=2))


# HAProxy's `show servers state`: each server's name (field 3), operational state (5; 2: up) and
# administrative state (6; 0: neither drained nor in maintenance).
SERVERS_STATE = (
    "import socket; s = socket.socket(socket.AF_UNIX); s.connect('/run/haproxy/admin.sock');"
    " s.sendall(b'show servers state\\n'); print(s.makefile().read())"
)


def in_service(instance_ids: list[str], timeout: float = 120) -> None:
    """Wait until the load balancer's health checks pass for every one of these hosts."""
    deadline = time.monotonic() + timeout
    while True:
        state = podman("exec", LOAD_BALANCER_HOST, "python3", "-c", SERVERS_STATE)
        up = {f[3] for f in (line.split() for line in state.splitlines()) if len(f) > 6
              and f[5:7] == ["2", "0"]}  # fmt: skip
        if set(instance_ids) <= up:
            return
        if time.monotonic() > deadline:
            raise SystemExit(f"not in service after {timeout:.0f} s: {set(instance_ids) - up}")
        time.sleep(1)


def marked_down(instance_id: str, since: float) -> float:
    """When the load balancer marked the host down: its health checks' log line (epoch)."""
    journal = podman("exec", LOAD_BALANCER_HOST, "journalctl", "-u", "haproxy", "-o",
                     "short-unix", "--no-pager", "--since", f"@{int(since)}")  # fmt: skip
    for line in journal.splitlines():
        if f"/{instance_id} is DOWN" in line:
            return float(line.split()[0])
    raise SystemExit(f"the load balancer never marked {instance_id} down:\n{journal[-2000:]}")


def failover_report(
    events: list[dict[str, Any]], stopped: float, down: float, victim: str
) -> dict[str, Any]:
    """The stopped host's streams cut at that moment; questions asked after the stop that failed,
    before and after the load balancer marked the host down; the time from the stop until the
    last failure (every user served again)."""
    in_flight = [e for e in events if e["start"] <= stopped < e["end"]]
    on_victim = [e for e in in_flight if e["host"].startswith(victim)]
    before = [e for e in events if stopped < e["start"] <= down]
    after = [e for e in events if e["start"] > down]
    failures = [e for e in events if not e["ok"] and e["end"] >= stopped]
    last_failure = max((e["end"] for e in failures), default=stopped)
    return {
        "marked_down_after_s": round(down - stopped, 1),
        "in_flight_at_stop": len(in_flight),
        "in_flight_on_stopped_host": len(on_victim),
        "cut_at_stop": sum(not e["ok"] for e in on_victim),
        "cut_elsewhere": sum(not e["ok"] for e in in_flight if e not in on_victim),
        "asked_before_marked_down": len(before),
        "failed_before_marked_down": sum(not e["ok"] for e in before),
        "asked_after_marked_down": len(after),
        "failed_after_marked_down": sum(not e["ok"] for e in after),
        "failed_share_after_stop": round(
            sum(not e["ok"] for e in before + after) / max(len(before + after), 1), 4
        ),
        "seconds_until_all_served": round(last_failure - stopped, 1),
        "errors_seen": sorted({e["error"][:80] for e in failures}),
    }


def check_nothing_lost(lab: Lab, events: list[dict[str, Any]], users: int) -> dict[str, Any]:
    """Every load account signs in through the surviving host, and every chat a user opened is
    still in the shared database (the admin lists them)."""
    signed_in = sum(
        call(f"{lab.url}/api/v1/auths/signin", "",
             {"email": account_email(n), "password": PASSWORD})[0] == 200
        for n in range(users)
    )  # fmt: skip
    token = admin_token(lab.url, ADMIN_EMAIL, lab.admin_password)
    chats = {e["chat"] for e in events if e["chat"]}
    missing = sum(call(f"{lab.url}/api/v1/chats/{chat_id}", token)[0] != 200 for chat_id in chats)
    return {"accounts_signed_in": signed_in, "accounts": users, "chats": len(chats),
            "chats_missing": missing}  # fmt: skip


def smoke(
    lab: Lab, users: int, seconds: int, out: Path, rate: float = 40, tokens: int = 40
) -> tuple[dict[str, Any], dict[str, Any]]:
    """A short load through the load balancer, the stand-in streaming at `rate` tokens/s: the
    users' result and Locust's statistics."""
    token = admin_token(lab.url, ADMIN_EMAIL, lab.admin_password)
    ensure_accounts(lab.inside, token, users, PASSWORD)
    for host in lab.gpu_nodes:
        pace(host, rate, tokens)
    try:
        result = locust(lab, out, users, seconds, LOAD_THINK="1,3")
    finally:
        for host in lab.gpu_nodes:
            unpace(host)
    stats = {name: asdict(row) for name, row in locust_stats(out / "locust").items()}
    return result, {"stats": stats, "failures": locust_failures(out / "locust")}


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    for name in ("knee", "failover", "smoke", "fairness", "profile"):
        sub = commands.add_parser(name)
        sub.add_argument("--name", default=name, help="the artifacts folder's name")
        sub.add_argument(
            "--rate", type=float, default=20, help="the stand-in's tokens/s per stream"
        )
        sub.add_argument("--tokens", type=int, default=80, help="the stand-in's answer length")
    commands.choices["knee"].add_argument("--steps", default="10,20,40,80")
    commands.choices["knee"].add_argument("--seconds", type=int, default=40)
    commands.choices["knee"].add_argument("--bound-ms", type=float, default=1000)
    commands.choices["knee"].add_argument(
        "--webui-env", default="", help="Open WebUI settings for the run: NAME=VALUE,NAME=VALUE"
    )
    commands.choices["knee"].add_argument(
        "--path", choices=sorted(USER_CLASSES), default="api",
        help="the users' path: the API's streamed response or the chat page's socket.io",
    )  # fmt: skip
    commands.choices["knee"].add_argument(
        "--workers",
        type=int,
        choices=(1, 2),
        default=1,
        help="Open WebUI's workers on the host (UVICORN_WORKERS), each on a core of its own",
    )
    commands.choices["knee"].add_argument(
        "--slots",
        type=int,
        default=NO_SLOT_LIMIT,
        help="the stand-in's slots (OLLAMA_NUM_PARALLEL)",
    )
    commands.choices["knee"].add_argument(
        "--capacity",
        type=int,
        default=NO_CAPACITY_LIMIT,
        help="the gate's capacity (FLEET_GATE_CAPACITY)",
    )
    commands.choices["failover"].add_argument("--users", type=int, default=40)
    commands.choices["failover"].add_argument("--seconds", type=int, default=90)
    commands.choices["failover"].add_argument("--stop-after", type=float, default=30)
    commands.choices["failover"].add_argument("--think", default="1,3")
    commands.choices["failover"].add_argument(
        "--abrupt", action="store_true", help="kill the host (podman kill) instead of stopping it"
    )
    commands.choices["fairness"].add_argument("--heavy", type=int, default=20)
    commands.choices["fairness"].add_argument("--light", type=int, default=10)
    commands.choices["fairness"].add_argument("--hosts", type=int, choices=(1, 2), default=1)
    commands.choices["fairness"].add_argument("--seconds", type=int, default=30)
    commands.choices["fairness"].add_argument("--path", choices=sorted(USER_CLASSES), default="api")
    commands.choices["fairness"].add_argument(
        "--capacity", type=int, default=30, help="each host's capacity for the run"
    )
    commands.choices["fairness"].add_argument(
        "--slots",
        type=int,
        default=NO_SLOT_LIMIT,
        help="the stand-in's slots (OLLAMA_NUM_PARALLEL)",
    )
    commands.choices["profile"].set_defaults(tokens=1)
    commands.choices["profile"].add_argument("--users", type=int, default=40)
    commands.choices["profile"].add_argument("--seconds", type=int, default=40)
    commands.choices["profile"].add_argument("--top", type=int, default=25)
    commands.choices["profile"].add_argument("--path", choices=sorted(USER_CLASSES), default="api")
    commands.choices["smoke"].add_argument("--users", type=int, default=20)
    commands.choices["smoke"].add_argument("--seconds", type=int, default=30)
    args = parser.parse_args(argv)
    if args.command == "knee":
        knee(args)
    elif args.command == "failover":
        failover(args)
    elif args.command == "fairness":
        fairness(args)
    elif args.command == "profile":
        profile(args)
    else:
        result, stats = smoke(Lab.find(), args.users, args.seconds, OUT / args.name,
                              args.rate, args.tokens)  # fmt: skip
        print(json.dumps({"result": {k: v for k, v in result.items() if k != "gaps"}, **stats},
                         indent=2))  # fmt: skip


if __name__ == "__main__":
    main(sys.argv[1:])
