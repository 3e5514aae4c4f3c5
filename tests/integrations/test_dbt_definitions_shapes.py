"""``hw.Definitions(assets=hw.dbt.load(...))``: the shape a user guesses first works."""

from __future__ import annotations

import headwater as hw


def test_a_dbt_project_passed_as_assets_brings_its_models_sources_and_tests(jaffle) -> None:  # type: ignore[no-untyped-def]
    project = jaffle.project
    expected = project.definitions()

    @hw.asset(deps=[str(project.key_for("stg_customers"))])
    def report() -> None:
        return None

    for given in (project, [project], [[project], report], (p for p in [project, report])):
        defs = hw.Definitions(assets=given)
        assert set(expected.graph.keys) <= set(defs.graph.keys)
        assert len(defs.check_specs) == len(expected.check_specs) > 0
