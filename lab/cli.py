"""`python -m lab up|status|down|image`: the local lab's command line."""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import time
from collections.abc import Sequence
from itertools import cycle
from urllib.parse import urlparse

from fleetlib.paths import WHEELHOUSE
from fleetlib.wiring import admin_email
from lab.aws import admin_password_secret, client, create_shared_state
from lab.ca import CA_CERT, issue
from lab.config import (
    AVAILABILITY_ZONES,
    CHROMA_TARGET_GROUP,
    CHROMA_TARGET_GROUP_PORT,
    CHROMA_TARGET_GROUP_ROLE,
    FACT_CACHE,
    HOST_PREFIX,
    IDENTITY_HOST,
    LABEL,
    LOAD_BALANCER_HOST,
    ROLE_INSTANCE_TYPES,
    STATE_DIR,
    STATE_HOST,
    TARGET_GROUP,
    TARGET_GROUP_PORT,
    TARGET_GROUP_ROLE,
    identity_issuer,
    lab_endpoint,
    lab_imds_endpoint,
    lab_network,
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
from lab.image import ensure_image, ensure_services_image
from lab.podman import (
    containers_with_label,
    ensure_network,
    podman,
    remove_network,
    start_host,
    systemd_state,
    wait_for_systemd,
)
from lab.state import LabHost, LabState


def ensure_images(rebuild: bool = False) -> tuple[str, str]:
    """The hosts' image and the service hosts' image, built when missing (or asked); says which."""
    names = []
    for ensure in (ensure_image, ensure_services_image):
        name, took = ensure(rebuild=rebuild)
        print(f"image {name}: " + ("cached" if took is None else f"built in {took:.0f}s"))
        names.append(name)
    return names[0], names[1]


def cmd_bake(args: argparse.Namespace) -> int:
    from lab.bake import ensure_baked_image
    from lab.release import build_lab_release

    started = time.monotonic()
    built = build_lab_release()
    print(f"release {built.artifact.name} built in {time.monotonic() - started:.0f}s")
    name, took = ensure_baked_image(built, rebuild=args.rebuild)
    print(f"image {name}: " + ("cached" if took is None else f"baked in {took:.0f}s"))
    return 0


def cmd_image(args: argparse.Namespace) -> int:
    ensure_images(rebuild=args.rebuild)
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
    network = lab_network()
    image, services_image = ensure_images()
    gpu_image = image
    if args.baked:  # the gpu-nodes boot the baked image, as the fleet's do
        from lab.bake import ensure_baked_image
        from lab.release import build_lab_release

        gpu_image, took = ensure_baked_image(build_lab_release())
        print(f"image {gpu_image}: " + ("cached" if took is None else f"baked in {took:.0f}s"))
    ensure_network(network.name, str(network.subnet), str(network.gateway))
    state = LabState(endpoint=lab_endpoint(), moto_pid=None, image=image)
    state.save()  # from here on `lab down` can clean up whatever follows
    # The service hosts first: the network's bridge (moto's address) exists once one runs.
    services = {
        STATE_HOST: network.state_address,
        LOAD_BALANCER_HOST: network.load_balancer_address,
        IDENTITY_HOST: network.identity_address,
    }
    for name, address in services.items():
        start_host(name, services_image, network, str(address))
        state.services.append(name)
        state.save()
    names = [f"{HOST_PREFIX}{i}" for i in range(1, args.hosts + 1)]
    host_roles = [roles[i % len(roles)] for i in range(len(names))]
    for index, (name, role) in enumerate(zip(names, host_roles, strict=True), start=1):
        host_image = gpu_image if role == "gpu-node" else image
        start_host(name, host_image, network, network.host_address(index))
    moto = MotoServer(port=lab_port(), host=str(network.gateway), log=STATE_DIR / "moto.log")
    moto.start()
    state.moto_pid = moto.pid
    state.save()
    if moto.endpoint != lab_endpoint():
        raise SystemExit(f"moto is on {moto.endpoint}, the lab inventory says {lab_endpoint()}")
    state.imds_pid = start_imds(moto.endpoint)
    state.save()
    ec2 = ec2_client(moto.endpoint)
    zone_cycle = cycle(AVAILABILITY_ZONES)
    for index, (name, role) in enumerate(zip(names, host_roles, strict=True), start=1):
        wait_for_systemd(name)
        zone = next(zone_cycle)
        instance = run_tagged_instance(
            ec2,
            name=name,
            role=role,
            instance_type=ROLE_INSTANCE_TYPES[role],
            zone=zone,
            extra_tags={"LabHost": name},
            private_ip=network.host_address(index),
        )
        state.hosts.append(
            LabHost(name, role, instance["InstanceId"], ROLE_INSTANCE_TYPES[role], zone)
        )
        state.save()
    for name in services:
        wait_for_systemd(name)
    elbv2 = elbv2_client(moto.endpoint)
    for group, port, role, health_path in (
        (TARGET_GROUP, TARGET_GROUP_PORT, TARGET_GROUP_ROLE, "/health"),
        (CHROMA_TARGET_GROUP, CHROMA_TARGET_GROUP_PORT, CHROMA_TARGET_GROUP_ROLE, None),
    ):
        arn = create_target_group(ec2, elbv2, group, port, health_path)
        members = [host.instance_id for host in state.hosts if host.role == role]
        if members:
            register_targets(elbv2, arn, members, port)
    # The lab's CA (published with the shared state) and the identity provider's certificate.
    issue(IDENTITY_HOST, str(network.identity_address))
    create_shared_state(moto.endpoint, network)
    print(
        f"lab up in {time.monotonic() - started:.1f}s: {len(names)} hosts, "
        f"{len(services)} service hosts, AWS API {moto.endpoint}"
    )
    print_status(state)
    return 0


def start_imds(endpoint: str) -> int:
    """The instance metadata stand-in (lab/imds.py) on the gateway, in its own process group."""
    imds = urlparse(lab_imds_endpoint())
    log = (STATE_DIR / "imds.log").open("ab")
    proc = subprocess.Popen(
        [sys.executable, "-m", "lab.imds", "--host", str(imds.hostname),
         "--port", str(imds.port), "--endpoint", endpoint],
        stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    deadline = time.monotonic() + 30
    while not port_is_open(int(imds.port or 0), str(imds.hostname)):
        if proc.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"the metadata stand-in did not start; see {STATE_DIR / 'imds.log'}")
        time.sleep(0.2)
    return proc.pid


def api_is_up() -> bool:
    return port_is_open(lab_port(), str(lab_network().gateway))


def lab_is_healthy(state: LabState) -> bool:
    if not api_is_up():
        return False
    running = set(containers_with_label(LABEL))
    names = [host.name for host in state.hosts] + state.services
    return all(name in running and systemd_state(name) in ("running", "degraded") for name in names)


def print_status(state: LabState) -> bool:
    api_up = api_is_up()
    print(f"AWS API {state.endpoint}: {'up' if api_up else 'DOWN'}")
    healthy = api_up
    for name in state.services:
        systemd = systemd_state(name)
        healthy = healthy and systemd in ("running", "degraded")
        print(f"service host {name:<24} systemd {systemd}")
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


def cmd_info(args: argparse.Namespace) -> int:
    """Where to open the platform and how to sign in (what `make lab` ends with)."""
    state = LabState.load()
    if state is None:
        print("lab is down: `make lab` starts it")
        return 1
    print(f"The platform: http://{lab_network().load_balancer_address}/ (the lab's load balancer)")
    print(f"Sign in as {admin_email()}; its password, from the lab's Secrets Manager:")
    print(f"  .venv/bin/python -m lab admin-password     (the secret {admin_password_secret()})")
    print(f"People sign in with the lab's provider ({identity_issuer(lab_network())}):")
    print(f"  their passwords are under {STATE_DIR / 'identity'}/; the browser trusts {CA_CERT}")
    return 0


def cmd_admin_password(args: argparse.Namespace) -> int:
    """The first admin's password, read from the lab's Secrets Manager as an operator reads it
    from AWS's (`aws secretsmanager get-secret-value`)."""
    state = LabState.load()
    if state is None:
        print("lab is down: `make lab` starts it", file=sys.stderr)
        return 1
    secret = client("secretsmanager", state.endpoint).get_secret_value(
        SecretId=admin_password_secret()
    )
    print(secret["SecretString"])
    return 0


def cmd_down(args: argparse.Namespace) -> int:
    state = LabState.load()
    if state is not None and state.moto_pid:
        stop_process_group(state.moto_pid)
    if state is not None and state.imds_pid:
        stop_process_group(state.imds_pid)
    names = containers_with_label(LABEL)
    if names:
        podman("rm", "--force", "--time", "0", *names)
    remove_network(lab_network().name)
    shutil.rmtree(STATE_DIR, ignore_errors=True)
    shutil.rmtree(FACT_CACHE, ignore_errors=True)
    left = containers_with_label(LABEL)
    if left or api_is_up():
        print(f"lab down INCOMPLETE: containers {left}, AWS API port open: {api_is_up()}")
        return 1
    print(f"lab down: removed {len(names)} hosts and the AWS API at {lab_endpoint()}")
    return 0


def cmd_scale(args: argparse.Namespace) -> int:
    """gpu-nodes up or down to args.gpu_nodes, as the auto scaling group does: each new one
    configures itself; each leaving one (the newest) drains, then goes. None when the lab has
    that many: re-runs change nothing."""
    from lab.scale import scale_in, scale_out

    state = LabState.load()
    if state is None or not lab_is_healthy(state):
        raise SystemExit("the lab is not up: `lab up` first")
    if args.gpu_nodes < 1:
        raise SystemExit("--gpu-nodes must be 1 or more (the load balancer needs a target)")
    while (have := sum(h.role == "gpu-node" for h in state.hosts)) != args.gpu_nodes:
        started = time.monotonic()
        if have < args.gpu_nodes:
            zones = [h.zone for h in state.hosts]
            zone = min(AVAILABILITY_ZONES, key=zones.count)  # across zones, as the group does
            scaled = scale_out(state, zone, baked=args.baked)
            steps, done = scaled.seconds, f"{scaled.host.name} in service"
        else:
            gone = scale_in(state)
            steps, done = gone.seconds, f"{gone.host.name} terminated ({gone.cut} cut)"
        for step, seconds in steps.items():
            print(f"{step:<32} {seconds:7.1f} s")
        print(f"{done} after {time.monotonic() - started:.0f}s")
    print(f"{have} gpu-nodes")
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
    up.add_argument(
        "--baked",
        action="store_true",
        help="gpu-nodes boot the baked gpu-node image (`lab bake`; baked first when missing)",
    )
    up.set_defaults(func=cmd_up)
    sub.add_parser("status", help="show the hosts and the EC2 API").set_defaults(func=cmd_status)
    sub.add_parser("down", help="remove everything `up` started").set_defaults(func=cmd_down)
    sub.add_parser("info", help="where to open the platform, how to sign in").set_defaults(
        func=cmd_info
    )
    sub.add_parser(
        "admin-password", help="the first admin's password (the lab's Secrets Manager)"
    ).set_defaults(func=cmd_admin_password)
    scale = sub.add_parser(
        "scale", help="gpu-nodes up or down to N: new ones configure themselves, leaving ones drain"
    )
    scale.add_argument("--gpu-nodes", type=int, required=True)
    scale.add_argument(
        "--unbaked",
        dest="baked",
        action="store_false",
        help="start new gpu-nodes from the bare base image (the full release, the slow way)",
    )
    scale.set_defaults(func=cmd_scale)
    bake = sub.add_parser(
        "bake", help="bake (or reuse) the gpu-node image for this checkout's bake hash"
    )
    bake.add_argument("--rebuild", action="store_true")
    bake.set_defaults(func=cmd_bake)
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
