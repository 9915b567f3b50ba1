"""Database engine and sessions (SQLite in WAL mode or PostgreSQL), and migrations to head."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

logger = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).resolve().parents[1] / "migrations"
BUSY_TIMEOUT_MS = 30_000


@dataclass(frozen=True)
class Database:
    """One engine and two session factories over it.

    ``sessions`` is for units of work that write: on SQLite its transactions start with
    ``BEGIN IMMEDIATE``, so concurrent writers queue on the busy timeout instead of
    failing when a read lock cannot be upgraded. ``reader`` is for read-only work and
    never blocks a writer (WAL).
    """

    engine: Engine
    sessions: sessionmaker[Session]
    reader: sessionmaker[Session]
    # On PostgreSQL, the schema holding the tables (a question's own): every connection's
    # search_path. None: the server's default.
    schema: str | None = None

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    def dispose(self) -> None:
        self.engine.dispose()


def connect(url: str, schema: str | None = None, **engine_options: Any) -> Database:
    """Create the engine for ``url`` (creating a SQLite file's folder) and its sessions;
    on PostgreSQL, ``schema`` is every connection's search_path (``migrate`` creates it)."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        engine = _sqlite_engine(url, **engine_options)
    else:
        if schema is not None:
            engine_options["connect_args"] = {"options": f"-csearch_path={schema}"}
        engine = create_engine(url, pool_pre_ping=True, **engine_options)
    return Database(
        engine=engine,
        sessions=sessionmaker(
            engine.execution_options(sqlite_begin="IMMEDIATE"), expire_on_commit=False
        ),
        reader=sessionmaker(engine, expire_on_commit=False),
        schema=schema if parsed.get_backend_name() != "sqlite" else None,
    )


def _sqlite_engine(url: str, **engine_options: Any) -> Engine:
    database = make_url(url).database
    if database and database != ":memory:" and not database.startswith("file:"):
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(
        url,
        connect_args={"timeout": BUSY_TIMEOUT_MS / 1000, "check_same_thread": False},
        pool_size=10,
        max_overflow=30,
        **engine_options,
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # The driver's own transaction handling is switched off so that BEGIN is ours.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA journal_mode = WAL")
        # FULL: a commit is on disk before it returns (and before its 201). NORMAL in WAL
        # mode can lose the last commits on a power cut; FULL costs one fsync a commit.
        cursor.execute("PRAGMA synchronous = FULL")
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        mode = connection.get_execution_options().get("sqlite_begin", "DEFERRED")
        connection.exec_driver_sql(f"BEGIN {mode}")

    return engine


def alembic_config(url: str | None = None) -> Config:
    """Alembic configuration for the service's migrations (no ini file needed)."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if url is not None:
        config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def migrate(database: Database) -> None:
    """Bring the schema to the newest migration (idempotent)."""
    config = alembic_config()
    with database.engine.begin() as connection:
        if database.schema is not None:
            connection.exec_driver_sql(f'CREATE SCHEMA IF NOT EXISTS "{database.schema}"')
        config.attributes["connection"] = connection
        command.upgrade(config, "head")
    logger.info("database schema is at head (%s)", database.engine.url.render_as_string())


def schema_at_head(database: Database) -> bool:
    """Whether the database's schema is the newest migration's (``migrate`` has run)."""
    return _current_heads(database) == _newest_heads()


def _newest_heads() -> set[str]:
    """The revisions the migrations end at (read from ``MIGRATIONS_DIR``)."""
    return set(ScriptDirectory.from_config(alembic_config()).get_heads())


def _current_heads(database: Database) -> set[str]:
    with database.engine.connect() as connection:
        return set(MigrationContext.configure(connection).get_current_heads())


def wait_for_schema(database: Database, poll_seconds: float, stop: Callable[[], bool]) -> bool:
    """Wait until the schema is at head; False if ``stop()`` turns true first.

    ``python -m service`` starts its worker before it migrates, so that the worker's start
    overlaps with the migrations: the worker waits here before its first read or write.
    A database that cannot be read yet (locked by the migration, or not created) counts
    as not migrated.
    """
    newest, announced = _newest_heads(), False
    while not stop():
        try:
            if _current_heads(database) == newest:
                return True
        except OperationalError:
            pass
        if not announced:
            logger.info("waiting for the database's schema to reach the newest migration")
            announced = True
        time.sleep(poll_seconds)
    return False
