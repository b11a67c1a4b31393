"""The lab's PostgreSQL (the state host's, standing in for RDS): the restore rehearsals' moves.

From a snapshot: RDS's snapshot is a volume snapshot and its restore a new instance; here a
custom-format dump stands for the snapshot, and the restore puts a database back under the name
the fleet connects to - the same move as restoring the RDS snapshot under the instance's
identifier after renaming the damaged one (README: Upgrading the shared database).

To a point in time: RDS restores its daily snapshot and replays the archived transaction logs
up to the time asked for, as a new instance. Here the server archives its WAL
(lab_state_wal_archive), a base backup stands for the daily snapshot, and the restore replays
the archive up to the time into a new data folder that takes the fleet's server's place; the
damaged one is kept aside - the same move as restore-db-instance-to-point-in-time under the
instance's identifier after renaming the damaged one."""

from __future__ import annotations

import shlex
import time

from lab.aws import DATABASE_NAME, DATABASE_USER
from lab.config import STATE_HOST, lab_var
from lab.podman import PodmanError, podman

# Debian's cluster: data in /var/lib/postgresql/<cluster>, settings in /etc/postgresql/<cluster>.
VERSION = "15"
CLUSTER = f"{VERSION}/main"
UNIT = f"postgresql@{VERSION}-main.service"
DATA = f"/var/lib/postgresql/{CLUSTER}"
DAMAGED = f"{DATA}-damaged"  # the data a point-in-time restore replaced, kept aside
BASE_BACKUP = f"/var/lib/postgresql/{VERSION}/base-backup"
RECOVERY_SETTINGS = f"/etc/postgresql/{CLUSTER}/conf.d/zz-recovery.conf"
ARCHIVE = str(lab_var("lab_state_wal_archive"))


def as_postgres(command: str) -> str:
    return podman("exec", STATE_HOST, "runuser", "-u", "postgres", "--", "sh", "-c", command)


def psql(sql: str, database: str = "postgres") -> str:
    """What the statement returns, unaligned, without the trailing newline."""
    return as_postgres(f"psql -XAtq -v ON_ERROR_STOP=1 -d {database} -c {shlex.quote(sql)}").strip()


def recovering() -> bool:
    """Whether the server is still restoring (or not yet taking connections)."""
    try:
        return psql("SELECT pg_is_in_recovery()") != "f"
    except PodmanError:
        return True


def snapshot(path: str, database: str = DATABASE_NAME) -> float:
    """A custom-format dump of the database at path on the state host; seconds it took."""
    started = time.monotonic()
    as_postgres(f"pg_dump -Fc -d {database} -f {shlex.quote(path)}")
    return time.monotonic() - started


def restore(path: str, database: str = DATABASE_NAME, owner: str = DATABASE_USER) -> float:
    """The damaged database kept aside as <name>_damaged (no connections allowed, the fleet's
    cut), the snapshot restored under the fleet's name; seconds it took. The fleet's hosts
    reconnect by themselves."""
    damaged = f"{database}_damaged"
    started = time.monotonic()
    psql(f"DROP DATABASE IF EXISTS {damaged}")
    psql(f"ALTER DATABASE {database} WITH ALLOW_CONNECTIONS false")
    psql(f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{database}'")
    psql(f"ALTER DATABASE {database} RENAME TO {damaged}")
    psql(f"CREATE DATABASE {database} OWNER {owner}")
    as_postgres(f"pg_restore --exit-on-error -d {database} {shlex.quote(path)}")
    return time.monotonic() - started


def base_backup(path: str = BASE_BACKUP) -> float:
    """A base backup of the whole server at path on the state host (RDS's daily snapshot), and
    the archive pruned of the WAL no restore from it needs; seconds it took."""
    started = time.monotonic()
    as_postgres(
        f"rm -rf {shlex.quote(path)} && pg_basebackup -D {shlex.quote(path)} -X fetch -c fast"
        f" && pg_archivecleanup {ARCHIVE}"
        f" $(ls {ARCHIVE} | grep -E '^[0-9A-F]{{24}}\\.[0-9A-F]{{8}}\\.backup$' | tail -n 1)"
    )
    return time.monotonic() - started


def server_time() -> str:
    """The server's clock now, as a recovery target takes it."""
    return psql("SELECT now()")


def archive_wal(limit_s: float = 30.0) -> None:
    """The current WAL segment closed and archived (RDS uploads its logs every 5 minutes)."""
    segment = psql("SELECT pg_walfile_name(pg_switch_wal())")
    deadline = time.monotonic() + limit_s
    while psql("SELECT coalesce(last_archived_wal, '') FROM pg_stat_archiver") < segment:
        if time.monotonic() > deadline:
            raise TimeoutError(f"WAL segment {segment} not archived within {limit_s:.0f}s")
        time.sleep(0.2)


def restore_to(target_time: str, base: str = BASE_BACKUP, limit_s: float = 60.0) -> float:
    """The server replaced by one restored from the base backup and the archive up to
    target_time (then promoted); the damaged data kept aside (DAMAGED). Seconds from the stop
    to a server that accepts writes again. The fleet's hosts reconnect by themselves."""
    settings = (
        f"restore_command = 'cp {ARCHIVE}/%f %p'\n"
        f"recovery_target_time = '{target_time}'\n"
        "recovery_target_action = 'promote'\n"
    )
    started = time.monotonic()
    podman("exec", STATE_HOST, "systemctl", "stop", UNIT)
    as_postgres(
        f"rm -rf {DAMAGED} && mv {DATA} {DAMAGED} && cp -a {shlex.quote(base)} {DATA}"
        f" && touch {DATA}/recovery.signal && printf %s {shlex.quote(settings)}"
        f" > {RECOVERY_SETTINGS}"
    )
    try:
        podman("exec", STATE_HOST, "systemctl", "start", UNIT)
        deadline = time.monotonic() + limit_s
        while recovering():
            if time.monotonic() > deadline:
                raise TimeoutError(f"still recovering after {limit_s:.0f}s")
            time.sleep(0.2)
    finally:
        as_postgres(f"rm -f {RECOVERY_SETTINGS}")
    return time.monotonic() - started


def discard_point_in_time_leftovers(base: str = BASE_BACKUP) -> None:
    """The base backup and the data the restore replaced, removed once the rehearsal is over."""
    as_postgres(f"rm -rf {shlex.quote(base)} {DAMAGED}")
