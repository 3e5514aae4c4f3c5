"""Reading manifests and translating them, without running dbt (hand-written manifests)."""

from __future__ import annotations

import copy
import json
import os
import time
from pathlib import Path

import pytest

import headwater as hw
from headwater.core.selection import select
from headwater.integrations.dbt import DbtTranslator, read_manifest


def node(name: str, deps=(), *, rtype="model", folder="staging", materialized="view", **extra):
    uid = f"{rtype}.shop.{name}"
    path = f"{folder}/{name}.sql" if folder else f"{name}.sql"
    data = {
        "unique_id": uid, "resource_type": rtype, "name": name, "package_name": "shop", "path": path,
        "original_file_path": f"models/{path}", "fqn": ["shop", *([folder] if folder else []), name],
        "config": {"materialized": materialized, "meta": {}, "tags": []}, "tags": [], "meta": {},
        "description": "", "checksum": {"name": "sha256", "checksum": f"sum-{name}"},
        "depends_on": {"nodes": list(deps), "macros": []}, "relation_name": f'"db"."main"."{name}"',
        "columns": {},
    }
    data.update(extra)
    return uid, data


def manifest(*nodes, sources=(), version=12):
    return {
        "metadata": {"dbt_schema_version": f"https://schemas.getdbt.com/dbt/manifest/v{version}.json",
                     "dbt_version": "1.11.0", "project_name": "shop", "adapter_type": "duckdb"},
        "nodes": dict(nodes), "sources": dict(sources), "groups": {},
    }


def source(table: str, **extra):
    uid = f"source.shop.raw.{table}"
    data = {"unique_id": uid, "resource_type": "source", "source_name": "raw", "name": table, "identifier": table,
            "package_name": "shop", "original_file_path": "models/sources.yml", "fqn": ["shop", "raw", table],
            "description": "", "tags": [], "meta": {}, "source_meta": {}, "loaded_at_field": None,
            "freshness": None, "config": {}, "relation_name": f'"db"."raw"."{table}"', "columns": {}}
    data.update(extra)
    return uid, data


def small() -> dict:
    return manifest(
        node("stg_orders", ["source.shop.raw.orders"]),
        node("eph", ["model.shop.stg_orders"], materialized="ephemeral"),
        node("orders", ["model.shop.eph"], folder="marts", materialized="table"),
        ("test.shop.not_null_orders_id.1", {
            "unique_id": "test.shop.not_null_orders_id.1", "resource_type": "test", "name": "not_null_orders_id",
            "package_name": "shop", "original_file_path": "models/marts/schema.yml",
            "fqn": ["shop", "marts", "not_null_orders_id"], "config": {"severity": "ERROR"},
            "depends_on": {"nodes": ["model.shop.orders"]}, "attached_node": "model.shop.orders",
            "test_metadata": {"name": "not_null"}, "column_name": "id"}),
        sources=[source("orders", loaded_at_field="_loaded_at",
                        freshness={"warn_after": {"count": 1, "period": "hour"},
                                   "error_after": {"count": 1, "period": "day"}})],
    )


def project_dir(tmp_path: Path, data: dict) -> Path:
    (tmp_path / "dbt_project.yml").write_text("name: shop\n")
    (tmp_path / "target").mkdir(exist_ok=True)
    (tmp_path / "target" / "manifest.json").write_text(json.dumps(data))
    return tmp_path


def test_a_manifest_becomes_one_multi_asset_sources_and_checks(tmp_path):
    project = hw.dbt.load(project_dir(tmp_path, small()), parse="never")
    defs = project.definitions()
    multi = project.multi_asset
    assert multi.is_multi and multi.can_subset and multi.name == "dbt_shop"
    assert sorted(map(str, multi.keys)) == ["orders", "stg_orders"]  # the ephemeral model is no asset
    # edges go through the ephemeral model to what it reads
    assert [str(d) for d in defs.graph.spec(hw.AssetKey(("orders",))).deps] == ["stg_orders"]
    assert [str(k) for k in defs.sources] == ["raw/orders"]
    src = defs.sources[hw.AssetKey(("raw", "orders"))]
    assert src.observe is not None
    assert src.spec.freshness == hw.FreshnessPolicy.within(86400, 3600)
    [check] = project.checks
    assert (str(check.asset), check.name, check.spec.severity, check.spec.blocking) == (
        "orders", "not_null_orders_id", "error", True)
    assert defs.graph.spec(hw.AssetKey(("orders",))).code_version == "sum-orders"
    assert defs.graph.spec(hw.AssetKey(("orders",))).location.file.endswith("models/marts/orders.sql")


def test_key_mapping_hook_prefixes_or_renames_keys(tmp_path):
    folder = project_dir(tmp_path, small())
    prefixed = hw.dbt.load(folder, parse="never", translator=DbtTranslator(key_prefix="wh", source_key_prefix="lake"))
    defs = prefixed.definitions()
    assert {str(k) for k in defs.graph.keys} == {"wh/orders", "wh/stg_orders", "lake/raw/orders"}
    assert [str(d) for d in defs.graph.spec(hw.AssetKey(("wh", "stg_orders"))).deps] == ["lake/raw/orders"]

    class ByFolder(DbtTranslator):
        def asset_key(self, node):
            return hw.AssetKey((node.fqn[1], node.name.removeprefix("stg_")))

    renamed = hw.dbt.load(folder, parse="never", translator=ByFolder()).definitions()
    assert {str(k) for k in renamed.graph.keys} == {"marts/orders", "staging/orders", "raw/orders"}
    assert select(renamed.graph, "staging/*") == {hw.AssetKey(("staging", "orders"))}


def test_two_nodes_mapping_to_one_key_is_an_error_naming_both(tmp_path):
    class Clash(DbtTranslator):
        def asset_key(self, node):
            return hw.AssetKey(("same",))

    with pytest.raises(hw.DefinitionError, match=r"model\.shop\.\w+ and model\.shop\.\w+ both map to asset key same"):
        hw.dbt.load(project_dir(tmp_path, small()), parse="never", translator=Clash())


@pytest.mark.parametrize("mutate, field", [
    (lambda m: m["nodes"]["model.shop.orders"]["depends_on"].update(nodes="model.shop.eph"),
     r"nodes\['model.shop.orders'\].depends_on.nodes must be a list of strings, not str"),
    (lambda m: m["nodes"]["model.shop.orders"].pop("checksum"),
     r"nodes\['model.shop.orders'\].checksum is missing \(expected an object\)"),
    (lambda m: m["nodes"]["model.shop.orders"]["config"].update(materialized=3),
     r"nodes\['model.shop.orders'\].config.materialized must be a string, not int"),
    (lambda m: m.pop("nodes"), "nodes is missing"),
    (lambda m: m["metadata"].update(dbt_schema_version="https://schemas.getdbt.com/dbt/manifest/v5.json"),
     "metadata.dbt_schema_version is v5; Headwater reads manifests v9 and later"),
    (lambda m: m["metadata"].update(dbt_schema_version="https://example.com/catalog/v1.json"),
     "metadata.dbt_schema_version is 'https://example.com/catalog/v1.json', not a dbt manifest"),
    (lambda m: m["sources"]["source.shop.raw.orders"]["freshness"].update(error_after={"count": 1, "period": "week"}),
     r"sources\['source.shop.raw.orders'\].freshness.error_after must have a numeric count and a period"),
    (lambda m: m["nodes"]["test.shop.not_null_orders_id.1"]["config"].update(severity="fatal"),
     r"config.severity is 'fatal'; dbt knows 'warn' and 'error'"),
])
def test_a_malformed_manifest_is_an_error_naming_the_field(tmp_path, mutate, field):
    data = copy.deepcopy(small())
    mutate(data)
    path = tmp_path / "manifest.json"
    path.write_text(json.dumps(data))
    with pytest.raises(hw.DefinitionError, match=field) as info:
        read_manifest(path)
    assert str(path) in str(info.value)


def test_unreadable_or_missing_manifest_and_missing_project_are_clear_errors(tmp_path):
    (tmp_path / "manifest.json").write_text("{not json")
    with pytest.raises(hw.DefinitionError, match="cannot be read as JSON"):
        read_manifest(tmp_path / "manifest.json")
    with pytest.raises(hw.DefinitionError, match="does not exist; run `dbt parse`"):
        read_manifest(tmp_path / "nope.json")
    with pytest.raises(hw.DefinitionError, match="is not a dbt project: it has no dbt_project.yml"):
        hw.dbt.load(tmp_path / "empty")
    with pytest.raises(hw.DefinitionError, match="parse=.* must be one of auto, always, never"):
        hw.dbt.load(tmp_path, parse="sometimes")


def test_manifest_staleness_follows_the_project_files(tmp_path):
    from headwater.integrations.dbt.project import stale_manifest_reason

    folder = project_dir(tmp_path, small())
    (folder / "models").mkdir()
    sql = folder / "models" / "orders.sql"
    sql.write_text("select 1")
    manifest_path = folder / "target" / "manifest.json"
    past = time.time() - 60
    os.utime(sql, (past, past))
    assert stale_manifest_reason(folder, manifest_path, folder / "target") is None
    sql.write_text("select 2")  # edited after the manifest was written
    assert "models/orders.sql changed after the manifest was written" in stale_manifest_reason(
        folder, manifest_path, folder / "target")
    (folder / "target" / "run_results.json").write_text("{}")  # dbt's own output never counts
    os.utime(sql, (past, past))
    assert stale_manifest_reason(folder, manifest_path, folder / "target") is None
    manifest_path.unlink()
    assert "does not exist" in stale_manifest_reason(folder, manifest_path, folder / "target")


def test_groups_owners_tags_and_kinds_follow_dbt(tmp_path):
    data = manifest(
        node("a", folder="staging", tags=["nightly"]),
        node("b", ["model.shop.a"], folder="marts", materialized="incremental", group="finance"),
        node("c", ["model.shop.b"], folder="marts", materialized="table", meta={"owner": ["x@example.com"]}),
        node("seed_1", rtype="seed", folder="", materialized="seed"),
    )
    data["groups"] = {"group.shop.finance": {"name": "finance", "owner": {"name": "Fin", "email": "fin@example.com"}}}
    defs = hw.dbt.load(project_dir(tmp_path, data), parse="never").definitions()
    spec = defs.graph.spec
    a, b, c, s = (spec(hw.AssetKey((n,))) for n in ("a", "b", "c", "seed_1"))
    assert (a.group, b.group, c.group, s.group) == ("staging", "finance", "marts", "seeds")
    assert (b.owners, c.owners, a.owners) == (("fin@example.com",), ("x@example.com",), ())
    assert dict(a.tags) == {"nightly": ""} and select(defs.graph, "tag:nightly") == {a.key}
    assert (a.kinds, b.kinds, s.kinds) == ({"dbt", "view"}, {"dbt", "incremental"}, {"dbt", "seed"})
    assert select(defs.graph, "owner:fin@example.com") == {b.key}


def test_a_generated_5000_model_manifest_loads(tmp_path):
    """Its time is bench/dbt_bench.py's (load); here, that a manifest of this size loads whole."""
    nodes = [node(f"m{i:04d}", [f"model.shop.m{j:04d}" for j in (i - 1, i // 2) if j >= 0 and j != i],
                  folder=("staging", "intermediate", "marts")[i % 3]) for i in range(5000)]
    folder = project_dir(tmp_path, manifest(*nodes))
    defs = hw.dbt.load(folder, parse="never").definitions()
    assert len(defs) == 5000
    last = next(k for k in defs.graph.keys if k.path[-1] == "m4999")
    assert {d.path[-1] for d in defs.graph.spec(last).deps} == {"m4998", "m2499"}
