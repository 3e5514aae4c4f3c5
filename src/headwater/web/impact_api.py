"""``GET /api/impact/{key}``: the blast radius of an asset (``headwater impact --json``),
which the asset page's "Impact" section draws (``static/impact.js``)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request

from headwater.core.keys import to_key
from headwater.service.impact_view import compute_impact, impact_to_dict, parse_horizon, parse_scenario
from headwater.web import models
from headwater.web.context import WebContext

router = APIRouter(prefix="/api", tags=["api"])
ERRORS: dict[int | str, dict[str, Any]] = {400: {"model": models.Problem}, 404: {"model": models.Problem}}


def _ctx(request: Request) -> WebContext:
    return request.app.state.ctx


@router.get("/impact/{key:path}", responses=ERRORS)
def impact(c: Annotated[WebContext, Depends(_ctx)], key: str,
           scenario: Annotated[str, Query(alias="if", max_length=20, description="failed, late or stale")] = "late",
           horizon: Annotated[str, Query(alias="for", max_length=20, description="how far ahead: 90m, 6h, 2d")] = "24h",
           ) -> dict[str, Any]:
    """What is affected downstream of ``key`` if it stays late, failed or stale, and when each
    freshness policy breaches, soonest first, grouped by owner (``headwater impact --json``)."""
    return impact_to_dict(compute_impact(c.instance, c.defs, to_key(key), parse_scenario(scenario),
                                         parse_horizon(horizon)))
