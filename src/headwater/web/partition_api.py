"""The partition endpoints of the JSON API.

    GET  /api/assets/{key}/partitions?state=failed,missing&offset=&limit=
    GET  /api/assets/{key}/partitions/{partition}
    POST /api/actions/materialize-partitions  {key, partitions | from/to, only, downstream}

Included before ``api.router``, whose ``/api/assets/{key:path}`` would otherwise take these
paths as asset keys. An asset whose own key ends in ``/partitions`` is still served as an
asset (keys win over the suffix).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse

from headwater.reports import run_to_dict
from headwater.web import partition_models as pm
from headwater.web.api import ACTION_ERRORS, ERRORS, ActionCtx, Ctx
from headwater.web.asset_view import asset_detail
from headwater.web.partition_launch import materialize_partitions
from headwater.web.partition_view import (
    MAX_PAGE,
    PAGE,
    detail_document,
    partition_detail,
    partitions_page,
    resolve,
    strip_data,
)

router = APIRouter(prefix="/api", tags=["partitions"])
States = Annotated[str | None, Query(max_length=200, description="materialized, missing, failed, running, stale, "
                                                                  "fresh; several with commas")]


@router.get("/assets/{key:path}/partitions", response_model=pm.PartitionsPage, responses=ERRORS)
def partitions(c: Ctx, key: str, state: States = None, offset: Annotated[int, Query(ge=0)] = 0,
               limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = PAGE,
               strip: Annotated[bool, Query(description="and the strip's cells, as the UI draws them")] = False,
               from_: Annotated[str | None, Query(alias="from", max_length=1000,
                                                  description="the strip from this key (of its columns)")] = None,
               to: Annotated[str | None, Query(max_length=1000, description="... to this one")] = None) -> Any:
    """Every partition of the asset, in the definition's order (time order for windows), with
    its state, why (staleness causes, error) and last materialization; filtered by state, paged;
    with ``strip=true``, the cells of its strip (aggregated past 2,000, zoomed by from/to)."""
    if _is_asset(c, f"{key}/partitions"):
        return JSONResponse(asset_detail(c, f"{key}/partitions"))
    doc = partitions_page(c, key, state, offset, limit)
    if strip:
        doc["strip"] = strip_data(c, key, from_, to)
    return doc


@router.get("/assets/{key:path}/partitions/{partition:path}", response_model=pm.PartitionDetail, responses=ERRORS)
def partition(c: Ctx, key: str, partition: str) -> Any:
    """One partition: its state and why, what it reads upstream, its history and its checks."""
    if _is_asset(c, f"{key}/partitions/{partition}"):
        return JSONResponse(asset_detail(c, f"{key}/partitions/{partition}"))
    k, p = resolve(c, key, partition)
    return detail_document(partition_detail(c, k, p))


@router.post("/actions/materialize-partitions", response_model=pm.MaterializePartitionsResponse,
             responses=ACTION_ERRORS)
def materialize(c: ActionCtx, body: pm.MaterializePartitionsRequest) -> dict[str, Any]:
    """Queue a run of some partitions of an asset: keys, a range, or only the missing / failed /
    stale ones (of a range, or of all), and optionally what reads them downstream."""
    record, chosen = materialize_partitions(c, body.key, body.partitions, body.from_, body.to, body.only,
                                            body.downstream)
    return {"run": run_to_dict(record), "partitions": chosen, "count": len(chosen)}


def _is_asset(c: Ctx, text: str) -> bool:
    return text in c.key_names
