"""The SVG markup of graph nodes, written directly: a 5,000-asset page is 5,000 of these, and
a Jinja macro per node costs more than the rest of the page together.

Every string from the project or the store goes through ``escape`` (markupsafe, what the
templates use); the numbers are formatted by us. The words behind a node's health (its
reasons) are not an SVG ``<title>`` in every node: graph.js shows them as a tooltip from the
page's JSON data, which the browser parses far faster than thousands of elements. Shared sizes (an asset box is always
``NODE_W`` x ``NODE_H``) live in the stylesheet, so each node carries only what differs.
"""

from __future__ import annotations

from markupsafe import Markup, escape

from headwater.web.graph_view import HEALTHS, NodeView


def node_svg(n: NodeView) -> Markup:
    """A node is a plain group, not an ``<a>``: graph.js turns clicks into navigation (links
    cost the browser a third of the time it takes to draw 5,000 nodes)."""
    b = n.box
    head = (f'<g class="{escape(node_class(n))}" data-id="{escape(b.id)}" data-href="{escape(n.href)}" '
            f'transform="translate({int(b.x)},{int(b.y)})">')
    return Markup(head + node_body(n) + "</g>")


def node_class(n: NodeView) -> str:
    return "node h-" + n.health + (" group-node" if n.box.group_box else "") + (" " + n.css if n.css else "")


def node_body(n: NodeView) -> str:
    """What is inside a node's group: the change feed sends this for graph.js to swap in."""
    b = n.box
    if b.group_box:
        w, h = int(b.w), int(b.h)
        body = (f'<rect class="body" width="{w}" height="{h}" rx="6"/><rect class="stripe" width="7" height="{h}" '
                f'rx="3"/><text class="k" x="16" y="18">▸ {escape(n.label)}</text>'
                f'<text class="l" x="16" y="34">{escape(n.lines[0])}</text>'
                f'<text class="l" x="16" y="49">{escape(n.lines[1])}</text>')
        x = 16.0
        for health in HEALTHS:
            count = n.counts.get(health, 0)
            if count:
                width = (b.w - 32) * count / max(b.members, 1)
                body += f'<rect class="seg s-{health}" x="{x:.1f}" y="57" width="{width:.1f}" height="7"/>'
                x += width
    else:
        body = (f'<rect class="body"/><rect class="stripe"/><text class="k" x="16" y="17">{escape(n.label)}</text>'
                f'<text class="l hv" x="16" y="33">{escape(n.health)} · {escape(n.lines[0])}</text>'
                f'<text class="l" x="16" y="48">{escape(n.lines[1])}</text>')
        if n.lines[2]:
            body += (f'<text class="l{" bad" if n.bad_checks else ""}" x="16" y="63">'
                     f'{escape(n.lines[2])}</text>')
    return body


def nodes_svg(nodes: list[NodeView]) -> Markup:
    return Markup("".join(node_svg(n) for n in nodes))
