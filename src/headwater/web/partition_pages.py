"""The partition pages: an asset's partitions (strip, filters, table) and one partition (its
state, why, what it reads, history, checks), and the partition card of the asset page.

    /partitions/events                      every partition of events (?from=&to= zooms the strip)
    /partitions/events[2026-03-04]          one partition: the key syntax the CLI and API share
    /partitions/sales[2026-03-04|eu]

Paths carry the ``asset[partition]`` address, so an asset key (which may hold ``/``) and a
partition key (which may too) never need telling apart.
"""

from __future__ import annotations

import time
from typing import Annotated, Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response
from markupsafe import Markup

from headwater.core.partitions import parse_partitioned_key
from headwater.errors import HeadwaterError
from headwater.web.pages import Ctx, Form, act, back, render, templates
from headwater.web.partition_launch import materialize_partitions
from headwater.web.partition_strip import STATES, build_strip, legend_svg, partition_href, reason, strip_svg
from headwater.web.partition_view import (
    FILTERS,
    PAGE,
    definition_row,
    matching,
    parse_states,
    partition_detail,
    partitioned,
    resolve,
)

router = APIRouter(include_in_schema=False)
Text = Annotated[str | None, Query(max_length=1000)]


def partitions_url(key: str, **params: Any) -> str:
    query = urlencode({k: v for k, v in params.items() if v not in (None, "")})
    return "/partitions/" + quote(key, safe="/") + ("?" + query if query else "")


@router.get("/partitions/{address:path}", response_class=HTMLResponse)
def partitions_html(request: Request, c: Ctx, address: str, state: Text = None, page: Annotated[int, Query(
        ge=1, le=1_000_000)] = 1, fragment: Text = None) -> Response:
    now = time.time()
    start = request.query_params.get("from") or None
    end = request.query_params.get("to") or None
    text, partition = parse_partitioned_key(address)
    if partition is not None:
        key, p = resolve(c, text, partition)
        view = partition_detail(c, key, p)
        name = "partition_body.html" if fragment == "body" else "partition.html"
        return render(request, name, p=view, now=now, href=partition_href, partitions_url=partitions_url,
                      cursor=c.feed.cursor(view.snapshot))
    key, d, st, pset = partitioned(c, text)
    states = parse_states(state)
    chosen = matching(pset, states)
    pctx = c.instance.partition_context(c.defs)
    strip = build_strip(str(key), d, pset.keys, pset.statuses, pctx, start, end,
                        base=partitions_url(str(key), state=state))
    if strip.in_range is not None:
        in_range = set(strip.in_range)
        chosen = [k for k in chosen if k in in_range]
    pages = max(1, -(-len(chosen) // PAGE))
    page = min(page, pages)
    rows = [pset.statuses[k] for k in chosen[(page - 1) * PAGE:page * PAGE]]
    snap = c.cache.get()
    counts = {**pset.counts(), "fresh": pset.materialized - pset.stale}
    name = "partitions_body.html" if fragment == "body" else "partitions.html"
    return render(request, name, key=str(key), d=d, st=st, pset=pset, strip=strip, svg=strip_svg(strip),
                  legend=legend_svg(), rows=rows, states=states, filters=FILTERS, matching=len(chosen),
                  page=page, pages=pages, href=partition_href, partitions_url=partitions_url, start=strip.start,
                  end=strip.end, state=state or "", definition=definition_row(d, pctx),
                  cursor=c.feed.cursor(snap), now=now, reason=reason, STATES=STATES, filter_counts=counts)


def partition_card(request: Request, key: Any, csrf_token: str) -> Markup:
    """The asset page's partitions card (``asset_body.html`` includes it for a partitioned asset)."""
    c = request.app.state.ctx
    try:
        k, d, st, pset = partitioned(c, str(key))
    except HeadwaterError:
        return Markup("")
    strip = build_strip(str(k), d, pset.keys, pset.statuses, c.instance.partition_context(c.defs),
                        base=partitions_url(str(k)))
    html = templates.get_template("partition_card.html").render(
        key=str(k), d=d, st=st, pset=pset, strip=strip, svg=strip_svg(strip, "pc"), legend=legend_svg("pcl"),
        partitions_url=partitions_url, csrf_token=csrf_token, read_only=c.guard.read_only, STATES=STATES)
    return Markup(html)


templates.env.globals["partition_card"] = partition_card


@router.post("/actions/materialize-partitions")
def materialize_form(request: Request, form: Form) -> Response:
    """Without JS: queue the run and open it."""
    c = act(request, form)
    keys = [k for k in (form.get("partition") or "").split(",") if k]
    record, _ = materialize_partitions(c, form.get("key", ""), keys, form.get("from") or None,
                                       form.get("to") or None, form.get("only") or None,
                                       form.get("downstream") == "1")
    return back(f"/runs/{record.run_id}")
