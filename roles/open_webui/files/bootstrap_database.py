"""Bring the fleet's shared Open WebUI database to this release, once, from one host: run the
database migrations when the schema is behind the installed open-webui, then create the first
admin when the database has no user yet (before any host serves, so that no visitor's sign-up
becomes the admin). Hosts start with ENABLE_DB_MIGRATIONS=False.

Runs with ENABLE_DB_MIGRATIONS=False (importing Open WebUI must not migrate on its own) and reads
DATABASE_URL and WEBUI_ADMIN_EMAIL, WEBUI_ADMIN_PASSWORD, WEBUI_ADMIN_NAME from its
environment; its last line of output is one JSON object: {"migrated": bool, "admin_created":
bool, "revision": [...]}.
With --check it changes nothing and reports what it would do."""

from __future__ import annotations

import asyncio
import hashlib
import importlib.util
import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, text

# The installed release's migration heads, by a key of its migration files: reading them loads
# every migration script (1.7 s of a run that finds nothing to do); a new release changes the key.
HEADS_CACHE = Path("/var/cache/llm-fleet/open-webui-alembic-heads.json")


def release_heads(package: Path, keep: bool) -> set[str]:
    """The heads of the installed open_webui's migrations (from the cache when its key matches;
    kept there when keep)."""
    versions = sorted(os.scandir(package / "migrations" / "versions"), key=lambda e: e.name)
    listing = "".join(f"{e.name}:{e.stat().st_size}\n" for e in versions if e.is_file())
    key = hashlib.sha256(listing.encode()).hexdigest()
    try:
        cached = json.loads(HEADS_CACHE.read_text())
        if cached.get("key") == key:
            return set(cached["heads"])
    except (OSError, ValueError):
        pass
    config = Config(str(package / "alembic.ini"))
    config.set_main_option("script_location", str(package / "migrations"))
    heads = set(ScriptDirectory.from_config(config).get_heads())
    if keep:
        HEADS_CACHE.parent.mkdir(parents=True, exist_ok=True)
        HEADS_CACHE.write_text(json.dumps({"key": key, "heads": sorted(heads)}))
    return heads


def alembic_heads(database_url: str, keep: bool = False) -> tuple[set[str], set[str]]:
    """The database's current revisions and the installed release's heads."""
    spec = importlib.util.find_spec("open_webui")
    if spec is None or spec.origin is None:
        raise SystemExit("open_webui is not installed in this Python")
    heads = release_heads(Path(spec.origin).parent, keep)
    engine = create_engine(database_url)
    try:
        with engine.connect() as connection:
            current = set(MigrationContext.configure(connection).get_current_heads())
    finally:
        engine.dispose()
    return current, heads


def has_users(database_url: str) -> bool:
    engine = create_engine(database_url)
    try:
        with engine.connect() as connection:
            return connection.execute(text('SELECT 1 FROM "user" LIMIT 1')).first() is not None
    finally:
        engine.dispose()


# PostgreSQL advisory lock key of this bootstrap ("llm-fleet" as a 63-bit number).
LOCK_KEY = int.from_bytes(b"llmfleet", "big") >> 1


@contextmanager
def one_at_a_time(database_url: str) -> Iterator[None]:
    """Hosts that configure themselves at once (a scale-out of several, a fleet's first deploy)
    each run this bootstrap: a PostgreSQL advisory lock lets one migrate and create the admin
    while the others wait, then find the schema current and the admin there."""
    if not database_url.startswith("postgresql"):
        yield
        return
    engine = create_engine(database_url)
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": LOCK_KEY})
            try:
                yield
            finally:
                connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": LOCK_KEY})
    finally:
        engine.dispose()


def main(argv: list[str]) -> int:
    check = "--check" in argv
    database_url = os.environ["DATABASE_URL"]
    if check:
        return bootstrap(database_url, check=True)
    with one_at_a_time(database_url):
        return bootstrap(database_url, check=False)


def bootstrap(database_url: str, check: bool) -> int:
    current, heads = alembic_heads(database_url, keep=not check)
    migrate = current != heads
    if check:
        users = has_users(database_url) if not migrate or current else False
        report = {"migrated": migrate, "admin_created": not users, "revision": sorted(current)}
        print(json.dumps(report))
        return 0
    if migrate:
        # Open WebUI's own migration runner (what its startup runs with
        # ENABLE_DB_MIGRATIONS=True). Imported only when needed: importing open_webui.config
        # takes seconds, most of a run that finds the schema current and the admin there.
        import open_webui.config

        open_webui.config.run_migrations()

    created = False
    if not has_users(database_url):
        from open_webui.utils.auth import create_admin_user

        user = asyncio.run(
            create_admin_user(
                os.environ["WEBUI_ADMIN_EMAIL"],
                os.environ["WEBUI_ADMIN_PASSWORD"],
                os.environ.get("WEBUI_ADMIN_NAME", "Admin"),
            )
        )
        if user is None:
            print("open_webui: could not create the first admin (see above)", file=sys.stderr)
            return 1
        created = True
    if migrate:  # reading the heads loads every migration script: 1.7 s, only when they ran
        current, _ = alembic_heads(database_url)
    print(json.dumps({"migrated": migrate, "admin_created": created, "revision": sorted(current)}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
