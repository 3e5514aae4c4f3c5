"""dbt as Headwater assets: ``hw.dbt.load(project_dir)`` (see ``docs/dbt.md``).

Every model, seed and snapshot is an asset (one subsettable multi-asset: one ``dbt build``
per run), every dbt source a source asset (observed with ``dbt source freshness``), every
dbt test a check. ``DbtTranslator`` is the one place to change how dbt maps to Headwater.
"""

from headwater.integrations.dbt.build import DbtBuildError, DbtTestOutcome
from headwater.integrations.dbt.invocation import DbtCommandError, DbtEvent, DbtInvocation
from headwater.integrations.dbt.lineage import ColumnLineage, ColumnRef, column_lineage
from headwater.integrations.dbt.manifest import DbtNode, DbtSource, DbtTest, Manifest, read_manifest
from headwater.integrations.dbt.options import DbtOptions
from headwater.integrations.dbt.project import DbtProject, load
from headwater.integrations.dbt.translator import DbtTranslator

__all__ = [
    "ColumnLineage",
    "ColumnRef",
    "DbtBuildError",
    "DbtCommandError",
    "DbtEvent",
    "DbtInvocation",
    "DbtNode",
    "DbtOptions",
    "DbtProject",
    "DbtSource",
    "DbtTest",
    "DbtTranslator",
    "Manifest",
    "DbtTestOutcome",
    "column_lineage",
    "load",
    "read_manifest",
]
