"""fleet_common: venv from the wheelhouse, secrets generated once or enforced, health gate,
a private CA in the system store."""

from __future__ import annotations

import hashlib

from testinfra.host import Host

from fleetlib.wiring import wired


def test_venv_has_the_pinned_package(host: Host) -> None:
    result = host.run("/opt/molecule/venv/bin/python -c 'import tqdm; print(tqdm.__version__)'")
    assert result.rc == 0 and result.stdout.strip() == "4.70.1"
    assert host.file("/opt/molecule/venv").user == "root"


def test_generated_secret_is_private_and_kept(host: Host) -> None:
    secret = host.file("/etc/molecule-generated.secret")
    assert secret.mode == 0o640 and secret.user == "root"
    value = secret.content_string
    assert len(value) == 48 and value.isalnum()
    # The converge and the idempotence run both handed the same value to the caller.
    kept = host.file("/root/generated-secret.sha256").content_string
    assert kept == hashlib.sha256(value.encode()).hexdigest()


def test_given_secret_is_enforced(host: Host) -> None:
    assert host.file("/etc/molecule-given.secret").content_string == "given-from-vault"


def test_hardened_unit_runs_sandboxed(host: Host) -> None:
    dropin = host.file("/etc/systemd/system/molecule-http.service.d/10-hardening.conf")
    assert "ProtectSystem=strict" in dropin.content_string
    assert "ReadWritePaths=/srv" in dropin.content_string
    show = host.run(
        "systemctl show molecule-http.service -p ProtectSystem -p NoNewPrivileges -p ActiveState"
    ).stdout
    assert "ProtectSystem=strict" in show and "NoNewPrivileges=yes" in show
    assert "ActiveState=active" in show


GET = "import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=10)"


def request_molecule_http(host: Host, path: str) -> None:
    host.check_output("python3 -c %s %s", GET, f"http://127.0.0.1:8999/{path}")


def test_unit_output_goes_to_a_rotated_log_file(host: Host) -> None:
    log = f"{wired('fleet_log_dir')}/molecule-http.log"
    assert host.file(wired("fleet_log_dir")).mode == 0o750
    request_molecule_http(host, "?before-rotation")
    assert '"GET /?before-rotation HTTP/1.1" 200' in host.file(log).content_string
    # A forced rotation moves the old lines away and the service keeps writing to the file.
    host.check_output("logrotate --force /etc/logrotate.d/llm-fleet")
    assert "before-rotation" in host.file(f"{log}.1").content_string
    request_molecule_http(host, "?after-rotation")
    current = host.file(log).content_string
    assert "after-rotation" in current and "before-rotation" not in current
    # The CloudWatch agent (group adm) reads it, before and after a rotation.
    assert (host.file(log).user, host.file(log).group, host.file(log).mode) == (
        "root",
        "adm",
        0o640,
    )


def test_the_service_skeleton_runs_a_service_from_data(host: Host) -> None:
    """User, folders, kept secret in the environment file, unit, sandbox, start, health."""
    assert host.user("skeleton").shell == "/usr/sbin/nologin"
    assert host.file("/var/lib/molecule-skeleton").user == "skeleton"
    token = host.file("/etc/molecule-skeleton/token")
    assert token.mode == 0o640 and token.group == "skeleton"
    env = host.file("/etc/molecule-skeleton/skeleton.env")
    assert env.mode == 0o640 and env.user == "root" and env.group == "skeleton"
    assert f"SKELETON_TOKEN={token.content_string}" in env.content_string
    assert "SKELETON_PORT=8998" in env.content_string
    unit = host.service("molecule-skeleton.service")
    assert unit.is_running and unit.is_enabled
    show = host.check_output(
        "systemctl show molecule-skeleton.service -p User -p ProtectSystem -p EnvironmentFiles"
    )
    assert "User=skeleton" in show and "ProtectSystem=strict" in show
    assert "/etc/molecule-skeleton/skeleton.env" in show
    host.check_output("python3 -c %s %s", GET, "http://127.0.0.1:8998/")


def test_the_private_ca_is_in_the_system_store(host: Host) -> None:
    """The scenario's test CA is in the bundle every TLS client on the host reads."""
    installed = host.file("/usr/local/share/ca-certificates/llm-fleet-trusted.crt")
    assert installed.exists and installed.mode == 0o644
    body = "".join(installed.content_string.strip().splitlines()[1:-1])
    bundle = host.file("/etc/ssl/certs/ca-certificates.crt").content_string.replace("\n", "")
    assert body and body in bundle
