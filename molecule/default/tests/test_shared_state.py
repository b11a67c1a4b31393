"""One platform, not islands: both gpu-nodes run Open WebUI on the same shared state - the
state host's PostgreSQL and Redis (RDS's and ElastiCache's stand-ins), the uploads bucket and
secrets in the lab's AWS API - so an account, a token, a chat and a file made through one host
are there through the other. All real software; the Ollama behind it is the TEST STAND-IN.
Restarting PostgreSQL or Redis costs a short outage that heals by itself, and loses nothing."""

from __future__ import annotations

import secrets
import subprocess
import time
from collections.abc import Callable

import boto3
import pytest
import requests
from lab_stack import (
    ADMIN_EMAIL,
    GPU_HOST,
    OTHER_GPU_HOST,
    api,
    host_url,
    lab_host,
    signin,
    wait_until,
)

from fleetlib.wiring import wired
from lab.aws import DATABASE_NAME, uploads_bucket
from lab.config import REGION, STATE_HOST, podman_env
from lab.database import (
    UNIT,
    archive_wal,
    base_backup,
    discard_point_in_time_leftovers,
    psql,
    restore,
    restore_to,
    server_time,
    snapshot,
)
from lab.ec2 import DUMMY_CREDENTIALS
from lab.state import LabState

# How long a restarted PostgreSQL or Redis may keep Open WebUI from answering (bounded wait).
RECOVERY_LIMIT_S = 60.0


@pytest.fixture(scope="module")
def urls() -> tuple[str, str]:
    return host_url(GPU_HOST), host_url(OTHER_GPU_HOST)


@pytest.fixture(scope="module")
def token_a(urls: tuple[str, str], admin_password: str) -> str:
    token: str = signin(urls[0], ADMIN_EMAIL, admin_password)["token"]
    return token


def test_every_gpu_host_runs_on_the_shared_state() -> None:
    for name in (GPU_HOST, OTHER_GPU_HOST):
        env = lab_host(name).file("/etc/open-webui/open-webui.env")
        assert env.mode & 0o007 == 0 and env.user == "root"  # it holds passwords
        settings = dict(
            line.split("=", 1) for line in env.content_string.splitlines() if "=" in line
        )
        assert settings["DATABASE_URL"].startswith("postgresql+psycopg://open_webui:")
        assert settings["ENABLE_DB_MIGRATIONS"] == "False"
        assert settings["WEBSOCKET_MANAGER"] == "redis"
        assert settings["REDIS_URL"].startswith("redis://:")
        assert settings["STORAGE_PROVIDER"] == "s3"
        assert settings["VECTOR_DB"] == "chroma"
        # Nothing the fleet cannot rebuild stays on the host: no SQLite database of its own.
        found = lab_host(name).run(f"find {wired('fleet_data_dir')} -name 'webui.db*'")
        assert found.rc == 0 and found.stdout.strip() == "", found.stdout


def test_both_hosts_share_one_secret_key() -> None:
    keys = {
        lab_host(name).file("/etc/open-webui/secret-key").content_string
        for name in (GPU_HOST, OTHER_GPU_HOST)
    }
    assert len(keys) == 1


def test_an_account_created_through_a_signs_in_through_b(
    urls: tuple[str, str], token_a: str
) -> None:
    email = f"user-{secrets.token_hex(4)}@llm-fleet.local"
    password = secrets.token_urlsafe(16)
    added = api(
        "POST",
        f"{urls[0]}/api/v1/auths/add",
        token_a,
        {"name": "Shared User", "email": email, "password": password, "role": "user"},
    )
    assert added["email"] == email
    on_b = signin(urls[1], email, password)
    assert on_b["email"] == email and on_b["role"] == "user"


def test_a_token_from_a_works_on_b(urls: tuple[str, str], token_a: str) -> None:
    assert api("GET", f"{urls[1]}/api/v1/auths/", token_a)["email"] == ADMIN_EMAIL


def test_a_chat_started_on_a_is_listed_on_b(urls: tuple[str, str], token_a: str) -> None:
    title = f"shared chat {secrets.token_hex(4)}"
    chat = api("POST", f"{urls[0]}/api/v1/chats/new", token_a, {"chat": {"title": title}})
    listed = api("GET", f"{urls[1]}/api/v1/chats/", token_a)
    assert chat["id"] in {entry["id"] for entry in listed}


def test_a_file_uploaded_through_a_is_read_through_b_from_the_bucket(
    urls: tuple[str, str], token_a: str
) -> None:
    content = f"shared upload {secrets.token_hex(8)}\n".encode()
    uploaded = requests.post(
        f"{urls[0]}/api/v1/files/?process=false",
        headers={"Authorization": f"Bearer {token_a}"},
        files={"file": ("shared.txt", content, "text/plain")},
        timeout=120,
    )
    assert uploaded.status_code == 200, uploaded.text
    file_id = uploaded.json()["id"]
    read = requests.get(
        f"{urls[1]}/api/v1/files/{file_id}/content",
        headers={"Authorization": f"Bearer {token_a}"},
        timeout=60,
    )
    assert read.status_code == 200 and read.content == content
    state = LabState.load()
    assert state is not None
    s3 = boto3.client("s3", region_name=REGION, endpoint_url=state.endpoint, **DUMMY_CREDENTIALS)
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=uploads_bucket()).get("Contents", [])]
    assert any(file_id in key for key in keys), keys


def restart_on_state_host(unit: str) -> None:
    subprocess.run(
        ["podman", "exec", STATE_HOST, "systemctl", "restart", unit],
        check=True,
        env=podman_env(),
        timeout=120,
    )


@pytest.mark.disruptive
@pytest.mark.parametrize("unit", [UNIT, "redis-server.service"])
def test_a_restarted_server_is_reconnected_to_and_nothing_is_lost(
    unit: str, urls: tuple[str, str], token_a: str, admin_password: str
) -> None:
    chats_before = {c["id"] for c in api("GET", f"{urls[1]}/api/v1/chats/", token_a)}
    started = time.monotonic()
    restart_on_state_host(unit)
    restarted = time.monotonic() - started

    def healthy_and_signed_in() -> bool:
        for url in urls:
            for check in ("health/db", "ready"):  # the database; the database and Redis
                if api("GET", f"{url}/{check}", timeout=5).get("status") is not True:
                    return False
            if signin(url, ADMIN_EMAIL, admin_password)["role"] != "admin":
                return False
        return True

    took = restarted + wait_until(healthy_and_signed_in, RECOVERY_LIMIT_S)
    print(
        f"\n{unit}: restarted in {restarted:.1f}s; both hosts' /health/db, /ready and sign-in"
        f" back {took:.1f}s after the restart began"
    )
    chats_after = {c["id"] for c in api("GET", f"{urls[0]}/api/v1/chats/", token_a)}
    assert chats_before <= chats_after


def chat_titles(url: str, token: str) -> set[str]:
    return {c["title"] for c in api("GET", f"{url}/api/v1/chats/", token)}


def back_everywhere(urls: tuple[str, str], token: str, password: str, title: str) -> bool:
    """Every host signs the admin in and lists the chat again."""
    return all(
        signin(url, ADMIN_EMAIL, password)["role"] == "admin" and title in chat_titles(url, token)
        for url in urls
    )


def a_chat_on_both_hosts(urls: tuple[str, str], token: str, prefix: str) -> str:
    """A chat made through host A, listed through host B: its title."""
    title = f"{prefix} {secrets.token_hex(4)}"
    api("POST", f"{urls[0]}/api/v1/chats/new", token, {"chat": {"title": title}})
    assert title in chat_titles(urls[1], token)
    return title


def damage_then_restore(
    urls: tuple[str, str],
    token: str,
    password: str,
    title: str,
    restore_database: Callable[[], float],
    after_damage: Callable[[], object] = lambda: None,
) -> tuple[float, float]:
    """Every chat deleted (as a bad migration could), then the database restored: the chat is
    back through both hosts, which reconnect by themselves. The restore's seconds, and the
    seconds from its start until both hosts sign in and list the chat."""
    psql("DELETE FROM chat", DATABASE_NAME)
    after_damage()
    assert title not in chat_titles(urls[0], token)
    took = restore_database()
    back = took + wait_until(
        lambda: back_everywhere(urls, token, password, title), RECOVERY_LIMIT_S
    )
    return took, back


@pytest.mark.disruptive
def test_a_restore_from_the_snapshot_brings_back_what_a_bad_migration_destroyed(
    urls: tuple[str, str], token_a: str, admin_password: str
) -> None:
    """The restore rehearsal on the lab's PostgreSQL: a snapshot (before a migration), then
    damage, then the restore under the fleet's database name."""
    title = a_chat_on_both_hosts(urls, token_a, "before the upgrade")
    dump = "/var/tmp/llm-fleet-before-upgrade.dump"
    took_snapshot = snapshot(dump)
    took_restore, back = damage_then_restore(
        urls, token_a, admin_password, title, lambda: restore(dump)
    )
    print(
        f"\nsnapshot (pg_dump) {took_snapshot:.1f}s; restore {took_restore:.1f}s; the chat listed"
        f" and sign-in working on both hosts {back:.1f}s after the restore began"
    )
    psql(f"DROP DATABASE {DATABASE_NAME}_damaged")


@pytest.mark.disruptive
def test_a_point_in_time_restore_brings_back_what_came_after_the_backup_and_before_the_damage(
    urls: tuple[str, str], token_a: str, admin_password: str
) -> None:
    """The point-in-time rehearsal: a base backup (RDS's daily snapshot), then a chat made
    (only in the archived WAL), then damage. The server restored to the time between them from
    the backup and the archive: the chat made after the backup is back through both hosts, and
    what the damage did is not replayed."""
    took_backup = base_backup()
    title = a_chat_on_both_hosts(urls, token_a, "after the backup")
    target = server_time()
    time.sleep(0.5)  # the damage comes after the target time
    took_restore, back = damage_then_restore(
        urls, token_a, admin_password, title, lambda: restore_to(target), archive_wal
    )
    print(
        f"\nbase backup {took_backup:.1f}s; restore to {target} (stop, replay, promote)"
        f" {took_restore:.1f}s; the chat listed and sign-in working on both hosts {back:.1f}s"
        " after the restore began"
    )
    discard_point_in_time_leftovers()
