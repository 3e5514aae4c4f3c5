"""The impact API and the asset page's Impact section (issue 17)."""


def test_impact_api_and_asset_page_section(web):
    response = web.client.get("/api/impact/staging/orders", params={"if": "stale", "for": "6h"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["asset"] == "staging/orders" and body["if"] == "stale"
    assert {a["key"] for a in body["assets"]} == {"staging/orders", "revenue", "flaky", "dashboard"}
    assert body["headline"] == "Nothing breaches in the next 6 h if staging/orders stays stale."
    assert [t["name"] for t in body["triggers"]] == ["nightly"]
    assert web.client.get("/api/impact/staging/orders", params={"if": "sideways"}).status_code == 400
    assert web.client.get("/api/impact/nope").status_code in (400, 404)
    page = web.client.get("/assets/staging/orders").text
    assert 'data-impact="/api/impact/staging/orders"' in page and "/static/impact.js" in page
