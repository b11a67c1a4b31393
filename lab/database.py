"""The lab's PostgreSQL (the state host's, standing in for RDS): a snapshot and a restore from it,
as the restore rehearsal does them. RDS's snapshot is a volume snapshot and its restore a new
instance; here a custom-format dump stands for the snapshot, and the restore puts a database
back under the name the fleet connects to - the same move as restoring the RDS snapshot under
the instance's identifier after renaming the damaged one (README: Upgrading the shared
database)."""

from __future__ import annotations

import shlex
import time

from lab.aws import DATABASE_NAME, DATABASE_USER
from lab.config import STATE_HOST
from lab.podman import podman


def as_postgres(command: str) -> str:
    return podman("exec", STATE_HOST, "runuser", "-u", "postgres", "--", "sh", "-c", command)


def psql(sql: str, database: str = "postgres") -> str:
    return as_postgres(f"psql -XAtq -v ON_ERROR_STOP=1 -d {database} -c {shlex.quote(sql)}")


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
