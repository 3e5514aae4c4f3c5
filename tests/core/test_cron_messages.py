"""A bad cron line is refused naming the field at fault and why (issue 17's bad-input corpus)."""

import pytest

import headwater as hw
from headwater.core.cron import Cron


@pytest.mark.parametrize("line, message", [
    ("61 * * * *", "the minute field '61' has 61, outside 0-59"),
    ("0 24 * * *", "the hour field '24' has 24, outside 0-23"),
    ("0 7 0 * *", "the day-of-month field '0' has 0, outside 1-31"),
    ("0 7 * 13 *", "the month field '13' has 13, outside 1-12"),
    ("0 7 * * funday", "the day-of-week field 'funday' has 'funday', which is not a day-of-week: use 0-7 or a name (sun, mon, tue, ...)"),
    ("*/0 * * * *", "the minute field '*/0' has the step '0' in '*/0': a step is a whole number of at least 1"),
    ("0 7 * *", "it has 4 field(s), expected five: minute hour day-of-month month day-of-week (e.g. '0 7 * * 1-5')"),
    ("1,,2 * * * *", "the minute field '1,,2' has an empty item between commas"),
])
def test_the_field_at_fault_is_named(line, message):
    with pytest.raises(hw.DefinitionError) as caught:
        Cron(line)
    assert str(caught.value) == f"invalid cron expression {line!r}: {message}"


def test_valid_lines_still_pass():
    for line in ("0 7 * * 1-5", "*/15 * * * *", "0 7 * * mon-fri", "0 0 1 jan *", "5,10 2 * * 0"):
        Cron(line)


def test_a_bad_freshness_cron_names_the_asset_and_the_line(write_project):
    from headwater.definitions.loader import find_location, load_definitions

    path = write_project("""
        import headwater as hw

        @hw.asset
        def raw():
            return 1

        @hw.asset(
            freshness=hw.FreshnessPolicy.by_deadline("61 * * * *"),
        )
        def revenue(raw):
            return raw
    """)
    with pytest.raises(hw.DefinitionError) as caught:
        load_definitions(find_location(file=str(path)))
    assert str(caught.value) == ("invalid cron expression '61 * * * *': the minute field '61' has 61, outside "
                                 "0-59 (pipeline.py:9, in the definition of 'revenue')")
