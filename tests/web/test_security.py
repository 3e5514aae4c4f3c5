"""Loopback by default, a token elsewhere, read-only mode, CSRF on every action, escaping."""

import pytest
from typer.testing import CliRunner

from headwater.cli.app import app as cli
from headwater.errors import HeadwaterError
from headwater.web import UiConfig
from headwater.web.security import is_loopback


def test_loopback_detection():
    assert is_loopback("127.0.0.1") and is_loopback("localhost") and is_loopback("::1") and is_loopback("[::1]")
    assert is_loopback("127.8.9.10")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.1.5") and not is_loopback("example.com")


def test_a_public_address_needs_a_token_or_read_only(monkeypatch):
    monkeypatch.delenv("HEADWATER_UI_TOKEN", raising=False)
    with pytest.raises(HeadwaterError, match="HEADWATER_UI_TOKEN"):
        UiConfig(host="0.0.0.0").validate()
    UiConfig(host="0.0.0.0", read_only=True).validate()
    UiConfig(host="0.0.0.0", token="s3cret").validate()


def test_cli_refuses_a_public_address_without_token(project, monkeypatch):
    monkeypatch.delenv("HEADWATER_UI_TOKEN", raising=False)
    folder, location = project
    result = CliRunner().invoke(cli, ["ui", "--host", "0.0.0.0", "-f", location.file, "--home", str(folder / "h")])
    assert result.exit_code == 2
    assert "HEADWATER_UI_TOKEN" in result.output


def test_actions_need_a_csrf_token(web):
    c = web.client
    assert c.post("/api/actions/materialize", json={"key": "revenue"}).status_code == 403
    assert c.post("/api/actions/materialize", json={"key": "revenue"},
                  headers={"X-CSRF-Token": "forged"}).status_code == 403
    token = web.csrf()
    assert c.post("/api/actions/materialize", json={"key": "revenue"},
                  headers={"X-CSRF-Token": token, "Sec-Fetch-Site": "cross-site"}).status_code == 403
    assert c.post("/api/actions/materialize", json={"key": "revenue"},
                  headers={"X-CSRF-Token": token, "Origin": "http://evil.example"}).status_code == 403
    assert c.post("/api/actions/materialize", json={"key": "revenue"},
                  headers={"X-CSRF-Token": token, "Origin": "http://127.0.0.1:3000"}).status_code == 200
    # A token is bound to the browser's cookie: another browser's token does not work here.
    c.cookies.clear()
    assert c.post("/api/actions/materialize", json={"key": "revenue"},
                  headers={"X-CSRF-Token": token}).status_code == 403
    # HTML forms carry it as a field.
    assert c.post("/actions/materialize", data={"key": "revenue"}).status_code == 403
    ok = c.post("/actions/materialize", data={"key": "revenue", "csrf_token": web.csrf()}, follow_redirects=False)
    assert ok.status_code == 303 and ok.headers["location"].startswith("/runs/")


def test_host_header_must_be_loopback(web):
    assert web.client.get("/api/assets", headers={"Host": "evil.example"}).status_code == 400
    assert web.client.get("/api/assets", headers={"Host": "localhost:3000"}).status_code == 200


def test_read_only(make_web):
    w = make_web(read_only=True)
    assert w.post("/api/actions/materialize", {"key": "revenue"}).status_code == 403
    assert w.post("/api/actions/observe", {"key": "raw/orders"}).status_code == 403
    page = w.client.get("/assets/revenue").text
    assert "read-only" in page and 'disabled title="read-only"' in page


def test_token_on_a_public_address(make_web):
    w = make_web(host="0.0.0.0", token="s3cret")
    c = w.client
    assert w.post("/api/actions/materialize", {"key": "revenue"}).status_code == 401
    bearer = c.post("/api/actions/materialize", json={"key": "revenue"}, headers={"Authorization": "Bearer s3cret"})
    assert bearer.status_code == 200
    wrong = c.post("/api/actions/materialize", json={"key": "revenue"}, headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401
    assert "log in to act" in c.get("/").text
    # Browsers log in with a form (CSRF-protected), which sets an HttpOnly cookie.
    assert c.post("/login", data={"token": "s3cret"}).status_code == 403
    bad = c.post("/login", data={"token": "guess", "csrf_token": w.csrf()})
    assert bad.status_code == 401
    good = c.post("/login", data={"token": "s3cret", "csrf_token": w.csrf()}, follow_redirects=False)
    assert good.status_code == 303 and "httponly" in good.headers["set-cookie"].lower()
    assert w.post("/api/actions/materialize", {"key": "revenue"}).status_code == 200
    assert c.post("/logout", data={"csrf_token": w.csrf()}, follow_redirects=False).status_code == 303
    c.cookies.delete("hw_token")
    assert w.post("/api/actions/materialize", {"key": "revenue"}).status_code == 401


HOSTILE = "<script>alert('xss')</script>"


def test_hostile_strings_are_escaped_everywhere(web):
    pages = {
        "asset": web.client.get("/assets/staging/orders").text,
        "graph": web.client.get("/graph").text,
        "catalog": web.client.get("/assets").text,
    }
    run_id = web.client.get("/api/runs", params={"status": "succeeded"}).json()[0]["run_id"]
    pages["run"] = web.client.get(f"/runs/{run_id}").text
    for name, html in pages.items():
        assert "<script>alert" not in html, name
        assert "<img src=x" not in html, name
    assert "Typed orders &lt;script&gt;alert(&#39;xss&#39;)&lt;/script&gt;" in pages["asset"]
    assert "&lt;img src=x onerror=alert(1)&gt;" in pages["asset"]
    assert "&lt;script&gt;alert" in pages["run"]  # the log line
    pages["catalog rows"] = web.client.get("/assets?fragment=rows").text
    pages["graph nodes"] = "".join(n["body"] for n in web.client.get("/api/graph/changes").json()["nodes"])
    for name, html in pages.items():
        assert "<script>alert" not in html and "<img src=x" not in html, name
    # The JSON API returns the text as data, never as HTML.
    d = web.client.get("/api/assets/staging/orders")
    assert d.json()["definition"]["description"].endswith(HOSTILE)
    assert d.headers["x-content-type-options"] == "nosniff"


def test_security_headers(web):
    headers = web.client.get("/graph").headers
    assert "script-src 'self'" in headers["content-security-policy"]
    assert headers["x-frame-options"] == "DENY"
    assert "samesite=strict" in headers.get("set-cookie", "").lower()


def test_inline_data_cannot_close_its_script_tag(make_web, tmp_path):
    from headwater.web.pages import templates

    out = templates.env.filters["json_script"]({"k": "</script><script>alert(1)</script>"})
    assert "</script>" not in out and "\\u003c/script\\u003e" in out
