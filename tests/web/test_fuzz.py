"""Fuzz every operation of the OpenAPI document, and the pages' query strings: no input
yields a 500. Hypothesis draws path parameters, query values and JSON bodies (shaped like
the schema or not); actions are sent with a valid CSRF token so that they reach the handlers."""

from urllib.parse import quote

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

SETTINGS = settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

words = st.one_of(
    st.text(max_size=30),
    st.sampled_from(["revenue", "raw/orders", "*", "group:marts", "revenue+", "nightly", "schedule", "sensor", "0",
                     "-1", "99999999999999999999", "true", "degraded", "failed", "((", "\x00", "../../etc/passwd",
                     "%2F", "key:\"a\"", "tag:x=y", "<script>", "😀", "a" * 2000]),
)
json_values = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | words,
                           lambda inner: st.lists(inner, max_size=3) | st.dictionaries(words, inner, max_size=3),
                           max_leaves=8)


@st.composite
def requests(draw, ops):
    method, path, op = draw(st.sampled_from(ops))
    url = path
    for p in op.get("parameters", []):
        if p["in"] == "path":
            url = url.replace("{" + p["name"] + "}", quote(draw(words), safe="") or "x")
    query = {}
    for p in op.get("parameters", []):
        if p["in"] == "query" and draw(st.booleans()):
            query[p["name"]] = draw(st.one_of(words, st.integers().map(str)))
    body = None
    if method == "post":
        schema_ref = op.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema", {})
        props = list(draw(st.just(schema_ref)).get("properties", {})) or ["key", "selection", "downstream", "mode",
                                                                          "enabled"]
        body = draw(st.one_of(json_values,
                              st.dictionaries(st.sampled_from(["key", "selection", "downstream", "mode", "enabled",
                                                               *props]), json_values, max_size=4)))
    return method, url, query, body


def test_api_never_answers_500(web):
    spec = web.client.get("/openapi.json").json()
    ops = [(m, p, op) for p, item in spec["paths"].items() for m, op in item.items()]
    token = web.csrf()

    @SETTINGS
    @given(requests(ops))
    def check(req):
        method, url, query, body = req
        if method == "get":
            response = web.client.get(url, params=query)
        else:
            response = web.client.post(url, params=query, json=body, headers={"X-CSRF-Token": token})
        assert response.status_code < 500, (method, url, query, body, response.text[:300])
        if response.status_code >= 400:
            assert "detail" in response.json()

    check()


PAGES = ["/graph", "/assets", "/runs", "/automation", "/assets/{x}", "/runs/{x}", "/login", "/api"]
PARAMS = ["select", "health", "expand", "collapse", "q", "sort", "desc", "page", "status", "asset", "limit",
          "fragment", "notice"]


def test_pages_never_answer_500(web):
    @SETTINGS
    @given(st.sampled_from(PAGES), words, st.dictionaries(st.sampled_from(PARAMS), words, max_size=4))
    def check(page, x, query):
        response = web.client.get(page.replace("{x}", quote(x, safe="") or "x"), params=query)
        assert response.status_code < 500, (page, x, query, response.text[:300])

    check()


def test_forms_never_answer_500(web):
    token = web.csrf()

    @SETTINGS
    @given(st.sampled_from(["/actions/materialize", "/actions/observe", "/actions/check", "/runs/{x}/reexecute",
                            "/automation/{x}/{x}/toggle", "/login", "/logout"]), words,
           st.dictionaries(st.sampled_from(["key", "selection", "downstream", "mode", "enabled", "token"]), words,
                           max_size=4))
    def check(url, x, form):
        response = web.client.post(url.replace("{x}", quote(x, safe="") or "x"), data={**form, "csrf_token": token},
                                   follow_redirects=False)
        assert response.status_code < 500, (url, x, form, response.text[:300])

    check()
