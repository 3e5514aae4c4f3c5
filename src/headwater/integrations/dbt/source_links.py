"""A dbt source whose table something else in the project writes: one asset, not two.

The most common layout of a real dbt project: seeds (or a Python ingestion asset) write
``raw.raw_orders``, and the staging models read it through ``{{ source('ecom',
'raw_orders') }}``. dbt itself draws no edge between the seed and the source, so without
help the seed has no downstream, re-seeding marks nothing stale and a first ``dbt build``
on an empty database runs the staging models before the seeds they read.

Headwater makes the source *be* its producer, three ways (the first that applies wins):

1. the translator's ``source_key`` returns the key of a seed, model or snapshot of the
   project (``DbtTranslator(source_assets={"ecom.raw_orders": "raw_orders"})`` or
   ``[tool.headwater.dbt] source_assets`` say so without a subclass);
2. automatically, when the source resolves to the same relation (database.schema.identifier)
   as a seed, model or snapshot (``DbtTranslator.link_by_relation`` turns it off);
3. the source's key is produced by an asset outside dbt (``produced_elsewhere``, or a
   ``source_assets`` entry naming a key no dbt node has): no source asset is declared and the
   models depend on that asset.

In cases 1 and 2 the source gets its producer's key: the models that read the source depend
on the seed, the source's tests become checks of the seed, and a build that holds both runs
the producer first (``build_waves``), which bare ``dbt build`` does not know to do.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

from headwater.core.keys import AssetKey, to_key
from headwater.integrations.dbt.manifest import DbtSource, Manifest
from headwater.integrations.dbt.translator import DbtTranslator

if TYPE_CHECKING:
    from headwater.integrations.dbt.project import DbtProject


def normalized_relation(relation: str | None) -> str | None:
    """``"Dev"."RAW"."raw_orders"`` -> ``dev.raw.raw_orders``: how two relation names compare."""
    if not relation:
        return None
    return relation.replace('"', "").replace("`", "").replace("[", "").replace("]", "").lower()


class SourceLinks:
    """Decides, source by source, its key and the dbt node (if any) that writes its table."""

    def __init__(self, manifest: Manifest, translator: DbtTranslator, node_keys: Mapping[str, AssetKey]) -> None:
        self.translator = translator
        self._nodes = manifest.nodes
        self._key_of = {u: k for u, k in node_keys.items() if u in manifest.nodes}
        self._by_key = {k: u for u, k in self._key_of.items()}
        self._by_relation: dict[str, str] = {}
        for uid in self._by_key.values():
            rel = normalized_relation(manifest.nodes[uid].relation_name)
            if rel is not None:
                self._by_relation[rel] = uid
        self.how: dict[str, str] = {}  # source unique id -> how it was linked (for docs, `why`, tests)

    def resolve(self, source: DbtSource) -> tuple[AssetKey, str | None]:
        """The source's asset key and the unique id of the node that produces it (or None)."""
        t = self.translator
        key = to_key(t.source_key(source))
        producer = self._by_key.get(key)
        if producer is not None:
            self.how[source.unique_id] = ("the source_assets mapping" if t.is_mapped(source)
                                          else "DbtTranslator.source_key")
            return key, producer
        if not t.is_mapped(source) and t.link_by_relation(source):
            producer = self._by_relation.get(normalized_relation(source.relation_name) or "")
            if producer is not None:
                self.how[source.unique_id] = f"the same relation ({source.relation_name})"
                return self._key_of[producer], producer
        return key, None

    def produced_elsewhere(self, source: DbtSource) -> bool:
        return self.translator.is_produced_elsewhere(source)


def build_waves(project: DbtProject, uids: Iterable[str]) -> list[list[str]]:
    """The selected nodes in the order dbt must build them, as successive ``dbt build``s.

    dbt orders a build by its own edges; an edge Headwater added (a seed feeding a source) is
    unknown to it, so a node reached through one goes into a later build. Most projects (and
    any selection without such an edge) are one wave."""
    uids = list(uids)
    if not project.source_producer:
        return [uids]
    nodes = project.manifest.nodes
    wave: dict[str, int] = {}
    for uid in sorted(project.topo_index, key=project.topo_index.__getitem__):
        own = _dbt_parents(project, uid)
        wave[uid] = max((wave.get(p, 0) + (p not in own) for p in project.asset_parents(uid) if p in nodes),
                        default=0)
    out: dict[int, list[str]] = {}
    for uid in uids:
        out.setdefault(wave.get(uid, 0), []).append(uid)
    return [out[w] for w in sorted(out)]


def _dbt_parents(project: DbtProject, uid: str) -> set[str]:
    """The nodes dbt itself knows ``uid`` reads (through ephemeral models)."""
    nodes = project.manifest.nodes
    found: set[str] = set()
    stack = list(nodes[uid].depends_on) if uid in nodes else []
    while stack:
        dep = stack.pop()
        node = nodes.get(dep)
        if node is None or dep in found:
            continue
        found.add(dep)
        if node.is_ephemeral:
            stack.extend(node.depends_on)
    return found


__all__ = ["SourceLinks", "build_waves", "normalized_relation"]
