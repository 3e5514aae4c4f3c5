"""``headwater db upgrade``: create or upgrade the store's schema, once, before a rollout."""

from __future__ import annotations

from headwater.cli.typer_app import HeadwaterTyper, HomeOpt, _fail, app, out
from headwater.errors import HeadwaterError
from headwater.service import Instance

db_app = HeadwaterTyper(help="The store's database.")
app.add_typer(db_app, name="db")


@db_app.command("upgrade")
def upgrade(home: HomeOpt = None) -> None:
    """Create the store's tables, or migrate them to this version's schema (idempotent)."""
    from headwater.service.schema_admin import upgrade_schema

    try:
        with Instance(home=home) as instance:
            out.print(upgrade_schema(instance), markup=False, highlight=False)
    except HeadwaterError as exc:
        _fail(exc)
