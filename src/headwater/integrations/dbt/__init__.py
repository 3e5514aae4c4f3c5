"""dbt as Headwater assets: ``hw.dbt.load(project_dir)`` (see ``docs/dbt.md``).

Every model, seed and snapshot is an asset (one subsettable multi-asset: one ``dbt build``
per run), every dbt source a source asset (observed with ``dbt source freshness``), every
dbt test a check, every exposure an asset downstream of what it reads (neither built nor
observed). ``DbtTranslator`` is the one place to change how dbt maps to Headwater.
"""

from headwater.integrations.dbt.build import DbtBuildError, DbtTestOutcome
from headwater.integrations.dbt.invocation import DbtCommandError, DbtEvent, DbtInvocation
from headwater.integrations.dbt.lineage import (
    ColumnLineage,
    ColumnRef,
    LineageError,
    column_lineage,
    model_lineage,
)
from headwater.integrations.dbt.manifest import (
    DbtExposure,
    DbtNode,
    DbtSource,
    DbtTest,
    DbtUnitTest,
    Manifest,
    read_manifest,
)
from headwater.integrations.dbt.options import DbtOptions
from headwater.integrations.dbt.partitions import DbtPartitions
from headwater.integrations.dbt.project import DbtProject, load
from headwater.integrations.dbt.translator import DbtTranslator

__all__ = [
    "ColumnLineage",
    "ColumnRef",
    "DbtBuildError",
    "DbtCommandError",
    "DbtEvent",
    "DbtExposure",
    "DbtInvocation",
    "DbtNode",
    "DbtOptions",
    "DbtPartitions",
    "DbtProject",
    "DbtSource",
    "DbtTest",
    "DbtTranslator",
    "DbtUnitTest",
    "LineageError",
    "Manifest",
    "DbtTestOutcome",
    "column_lineage",
    "load",
    "model_lineage",
    "read_manifest",
]
