"""dbt options from the environment and from run tags: what passes, and clear errors."""

import pytest

from headwater.errors import DefinitionError
from headwater.integrations.dbt import options


def test_vars_and_full_refresh_from_the_environment():
    opts = options.from_environment({options.ENV_VARS: '{"day": "2026-11-24"}', options.ENV_FULL_REFRESH: "yes"})
    assert opts.vars == {"day": "2026-11-24"} and opts.full_refresh is True
    assert options.from_environment({}).vars is None


def test_vars_and_full_refresh_from_run_tags():
    opts = options.from_tags({options.TAG_VARS: '{"n": 2}', options.TAG_FULL_REFRESH: "false"})
    assert opts.vars == {"n": 2} and opts.full_refresh is False


@pytest.mark.parametrize("text", ["not json", "[1, 2]", '"a string"'])
def test_vars_that_are_not_a_json_object_name_where_they_came_from(text):
    with pytest.raises(DefinitionError, match=f"{options.ENV_VARS} must be a JSON object"):
        options.from_environment({options.ENV_VARS: text})
    with pytest.raises(DefinitionError, match=f"run tag {options.TAG_VARS} must be a JSON object"):
        options.from_tags({options.TAG_VARS: text})


def test_a_full_refresh_tag_must_say_true_or_false():
    with pytest.raises(DefinitionError, match="must be true or false"):
        options.from_tags({options.TAG_FULL_REFRESH: "maybe"})
