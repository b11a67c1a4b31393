"""`python -m lab up|status|down|image`: the local lab's command line."""

from __future__ import annotations

import argparse
import shutil
import time
from collections.abc import Sequence
from itertools import cycle

from lab.config import (
    AVAILABILITY_ZONES,
    FACT_CACHE,
    HOST_PREFIX,
    HOST_WHEELHOUSE,
    LABEL,
    ROLE_INSTANCE_TYPES,
    STATE_DIR,
    TARGET_GROUP,
    TARGET_GROUP_PORT,
    TARGET_GROUP_ROLE,
    WHEELHOUSE,
    lab_endpoint,
    lab_port,
)
from lab.ec2 import (
    MotoServer,
    create_target_group,
    ec2_client,
    elbv2_client,
    port_is_open,
    register_targets,
    run_tagged_instance,
    stop_process_group,
)
from lab.image import ensure_image
from lab.podman import containers_with_label, podman, systemd_state, wait_for_systemd
from lab.state import LabHost, LabState


def start_host(name: str, image: str) -> None:
    volumes = []
    if WHEELHOUSE.is_dir():
        volumes = ["--volume", f"{WHEELHOUSE}:{HOST_WHEELHOUSE}:ro"]
    podman(
        "run",
        "--detach",
        f"--name={name}",
        f"--hostname={name}",
        f"--label={LABEL}=true",
        "--systemd=always",
        *volumes,
        image,
        "/sbin/init",
    )


def cmd_image(args: argparse.Namespace) -> int:
    name, took = ensure_image(rebuild=args.rebuild)
    print(f"image {name}: " + ("cached" if took is None else f"built in {took:.0f}s"))
    return 0


def cmd_up(args: argparse.Namespace) -> int:
    state = LabState.load()
    if state is not None:
        if len(state.hosts) == args.hosts and lab_is_healthy(state):
            print(f"lab already up with {len(state.hosts)} hosts")
            return 0
        print("lab state is stale or differently sized: taking it down first")
        cmd_down(args)
    roles = [role.strip() for role in args.roles.split(",") if role.strip()]
    unknown = sorted(set(roles) - set(ROLE_INSTANCE_TYPES))
    if unknown:
        raise SystemExit(f"unknown lab role(s) {unknown}; known: {sorted(ROLE_INSTANCE_TYPES)}")
    stale = containers_with_label(LABEL)
    if stale:  # hosts left by a lab whose state was lost (another checkout, a crash)
        print(f"removing stale lab hosts {stale}")
        podman("rm", "--force", "--time", "0", *stale)
    started = time.monotonic()
    image, took = ensure_image()
    print(f"image {image}: " + ("cached" if took is None else f"built in {took:.0f}s"))
    moto = MotoServer(port=lab_port(), log=STATE_DIR / "moto.log")
    moto.start()
    state = LabState(endpoint=moto.endpoint, moto_pid=moto.pid, image=image)
    state.save()  # from here on `lab down` can clean up whatever follows
    ec2 = ec2_client(moto.endpoint)
    role_cycle, zone_cycle = cycle(roles), cycle(AVAILABILITY_ZONES)
    names = [f"{HOST_PREFIX}{i}" for i in range(1, args.hosts + 1)]
    for name in names:
        start_host(name, image)
    for name in names:
        wait_for_systemd(name)
        role, zone = next(role_cycle), next(zone_cycle)
        instance = run_tagged_instance(
            ec2,
            name=name,
            role=role,
            instance_type=ROLE_INSTANCE_TYPES[role],
            zone=zone,
            extra_tags={"LabHost": name},
        )
        state.hosts.append(
            LabHost(name, role, instance["InstanceId"], ROLE_INSTANCE_TYPES[role], zone)
        )
        state.save()
    elbv2 = elbv2_client(moto.endpoint)
    target_group = create_target_group(ec2, elbv2, TARGET_GROUP, TARGET_GROUP_PORT)
    serving = [host.instance_id for host in state.hosts if host.role == TARGET_GROUP_ROLE]
    if serving:
        register_targets(elbv2, target_group, serving, TARGET_GROUP_PORT)
    print(
        f"lab up in {time.monotonic() - started:.1f}s: {len(names)} hosts, EC2 API {moto.endpoint}"
    )
    print_status(state)
    return 0


def lab_is_healthy(state: LabState) -> bool:
    if not port_is_open(lab_port()):
        return False
    running = set(containers_with_label(LABEL))
    return all(
        host.name in running and systemd_state(host.name) in ("running", "degraded")
        for host in state.hosts
    )


def print_status(state: LabState) -> bool:
    api_up = port_is_open(lab_port())
    print(f"EC2 API {state.endpoint}: {'up' if api_up else 'DOWN'}")
    healthy = api_up
    print(f"{'host':<20} {'role':<10} {'instance':<21} {'type':<12} {'zone':<11} systemd")
    for host in state.hosts:
        systemd = systemd_state(host.name)
        healthy = healthy and systemd in ("running", "degraded")
        print(
            f"{host.name:<20} {host.role:<10} {host.instance_id:<21} "
            f"{host.instance_type:<12} {host.zone:<11} {systemd}"
        )
    return healthy


def cmd_status(args: argparse.Namespace) -> int:
    state = LabState.load()
    if state is None:
        print("lab is down")
        return 1
    return 0 if print_status(state) else 1


def cmd_down(args: argparse.Namespace) -> int:
    state = LabState.load()
    if state is not None and state.moto_pid:
        stop_process_group(state.moto_pid)
    names = containers_with_label(LABEL)
    if names:
        podman("rm", "--force", "--time", "0", *names)
    shutil.rmtree(STATE_DIR, ignore_errors=True)
    shutil.rmtree(FACT_CACHE, ignore_errors=True)
    left = containers_with_label(LABEL)
    if left or port_is_open(lab_port()):
        print(
            f"lab down INCOMPLETE: containers {left}, EC2 API port open: {port_is_open(lab_port())}"
        )
        return 1
    print(f"lab down: removed {len(names)} hosts and the EC2 API at {lab_endpoint()}")
    return 0


def cmd_wheelhouse(args: argparse.Namespace) -> int:
    from lab.wheelhouse import download

    ensure_image()
    took = download()
    print(f"wheelhouse {WHEELHOUSE}: {len(list(WHEELHOUSE.glob('*.whl')))} wheels ({took:.0f}s)")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="lab", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    up = sub.add_parser("up", help="build the image if needed, start the EC2 API and N hosts")
    up.add_argument("--hosts", type=int, default=2, help="number of lab hosts (default 2)")
    up.add_argument(
        "--roles",
        default="gpu-node,rag-node",
        help="Role tags handed out to the hosts in turn (default gpu-node,rag-node)",
    )
    up.set_defaults(func=cmd_up)
    sub.add_parser("status", help="show the hosts and the EC2 API").set_defaults(func=cmd_status)
    sub.add_parser("down", help="remove everything `up` started").set_defaults(func=cmd_down)
    image = sub.add_parser("image", help="build (or reuse) the cached base image")
    image.add_argument("--rebuild", action="store_true")
    image.set_defaults(func=cmd_image)
    sub.add_parser(
        "wheelhouse", help="download the hosts' wheels for the hosts' Python (in a host image)"
    ).set_defaults(func=cmd_wheelhouse)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if getattr(args, "hosts", 1) < 1:
        raise SystemExit("--hosts must be at least 1")
    result: int = args.func(args)
    return result
