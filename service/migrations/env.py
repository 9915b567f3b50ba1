"""Alembic environment: runs on the caller's connection, or on FORECAST_DATABASE_URL."""

from __future__ import annotations

import logging
from logging.config import fileConfig

from alembic import context

from service.common.db import connect
from service.common.tables import Base
from service.settings import Settings

logger = logging.getLogger(__name__)

config = context.config
if config.config_file_name is not None:  # run from the alembic command line
    fileConfig(config.config_file_name, disable_existing_loggers=False)
target_metadata = Base.metadata


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    url = config.get_main_option("sqlalchemy.url") or Settings.from_env().database_url
    database = connect(url)
    try:
        with database.engine.begin() as own:
            _run(own)
    finally:
        database.dispose()


def _run(connection) -> None:
    # Batch mode lets later migrations alter SQLite tables (which lacks ALTER COLUMN).
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    context.configure(
        url=config.get_main_option("sqlalchemy.url") or Settings.from_env().database_url,
        target_metadata=target_metadata,
        literal_binds=True,
    )
    with context.begin_transaction():
        context.run_migrations()
else:
    run_migrations_online()
