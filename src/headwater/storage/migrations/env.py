"""Alembic environment for Headwater's schema.

At runtime Headwater applies migrations itself when a store opens
(``headwater.storage.sql.schema.ensure_schema``) and hands Alembic the connection, already
inside the transaction and holding the migration lock, as ``config.attributes["connection"]``.

For developers writing the next revision, the Alembic CLI works too, given an ini file
whose ``[alembic]`` section sets ``script_location`` to this directory, and a URL::

    alembic -c dev.ini -x url=sqlite:///scratch.db upgrade head
    alembic -c dev.ini -x url=sqlite:///scratch.db revision --autogenerate -m "..."

Review what autogenerate writes: each revision must be a frozen snapshot that never
imports ``tables.py`` (which describes only the newest schema), and ``HEAD`` in
``storage/sql/schema.py`` must name the new revision.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from headwater.storage.sql.tables import metadata

config = context.config


def _run(connection: Connection) -> None:
    # render_as_batch: SQLite cannot ALTER most things; batch mode copies the table instead.
    context.configure(connection=connection, target_metadata=metadata, render_as_batch=True,
                      compare_type=True)
    with context.begin_transaction():
        context.run_migrations()


def _run_from_url() -> None:
    from headwater.storage.sql.engines import create_engines

    url = context.get_x_argument(as_dictionary=True).get("url") or config.get_main_option("sqlalchemy.url")
    if not url:
        raise SystemExit("pass the database with: alembic -x url=sqlite:///path.db ...")
    engines = create_engines(url)
    try:
        with engines.write.begin() as connection:
            _run(connection)
    finally:
        engines.dispose()


if context.is_offline_mode():
    raise SystemExit("Headwater migrations run online only (SQLite needs batch mode on a live connection)")

_connection = config.attributes.get("connection")
if _connection is not None:
    _run(_connection)
else:
    _run_from_url()
