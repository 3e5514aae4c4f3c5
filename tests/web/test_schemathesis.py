"""Schemathesis over the whole OpenAPI document (issue 17): every operation, inputs drawn
from the schema and beyond it, and no answer is a server error. Plus the regression the
fault campaign found: an id past 64 bits was an OverflowError (HTTP 500), now a 422."""

import schemathesis
from hypothesis import HealthCheck, given, settings

from .conftest import BASE

EXAMPLES = 15


def test_schemathesis_finds_no_server_error(web):
    schema = schemathesis.openapi.from_dict(web.client.get("/openapi.json").json())
    token = web.csrf()
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 10
    failures = []
    for operation in operations:

        @settings(max_examples=EXAMPLES, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck))
        @given(operation.as_strategy())
        def check(case):
            kwargs = case.as_transport_kwargs(base_url=BASE, headers={"X-CSRF-Token": token})
            kwargs.pop("cookies", None)  # the client keeps the session's own (CSRF) cookie
            response = web.client.request(**kwargs)
            if response.status_code >= 500:
                failures.append((case.operation.label, case.path_parameters, case.query, case.body,
                                 response.status_code, response.text[:200]))

        check()
    assert failures == []


def test_ids_and_limits_past_64_bits_are_refused_with_422(web):
    run_id = web.instance.runs(limit=1)[0].run_id
    for query in ({"after_id": 2**63}, {"after_id": 10**30}, {"limit": 2**64}, {"after_id": -1}):
        response = web.client.get(f"/api/runs/{run_id}/events", params=query)
        assert response.status_code == 422, (query, response.text)
        assert "detail" in response.json()
    assert web.client.get(f"/api/runs/{run_id}/events", params={"after_id": 2**63 - 1}).status_code == 200
    assert web.client.get("/api/runs", params={"limit": 10**20}).status_code == 422
