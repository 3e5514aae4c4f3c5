"""Why a cron line is invalid, field by field: "minute 61 is out of range 0-59", not
"expected five fields" for a line that has five (a defect found by issue 17's bad-input
corpus). Pure; used only once croniter has refused a line, to word the error."""

from __future__ import annotations

import re

from croniter import croniter

FIELDS = (("minute", 0, 59), ("hour", 0, 23), ("day-of-month", 1, 31), ("month", 1, 12), ("day-of-week", 0, 7))
_NAMES = {
    "month": ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"),
    "day-of-week": ("sun", "mon", "tue", "wed", "thu", "fri", "sat"),
}
_TOKEN = re.compile(r"^(?P<range>\*|\?|[A-Za-z0-9]+(?:-[A-Za-z0-9]+)?)(?:/(?P<step>[^/]*))?$")


def diagnose(expression: str) -> str:
    """One sentence saying which field is wrong and why (croniter has refused the line)."""
    fields = expression.split()
    if len(fields) != 5:
        return (f"it has {len(fields)} field(s), expected five: minute hour day-of-month month day-of-week "
                "(e.g. '0 7 * * 1-5')")
    for i, (text, (name, low, high)) in enumerate(zip(fields, FIELDS, strict=True)):
        probe = " ".join(text if j == i else "*" for j in range(5))
        if croniter.is_valid(probe):
            continue
        return f"the {name} field {text!r} " + _field_problem(text, name, low, high)
    return "its fields are valid one by one but not together (e.g. a day-of-month the month never has)"


def _field_problem(text: str, name: str, low: int, high: int) -> str:
    for part in text.split(","):
        if not part:
            return "has an empty item between commas"
        m = _TOKEN.match(part)
        if m is None:
            return f"has {part!r}, which is not a number, a range a-b, '*' or a step x/n"
        step = m.group("step")
        if step is not None and (not step.isdigit() or int(step) == 0):
            return f"has the step {step!r} in {part!r}: a step is a whole number of at least 1"
        for value in m.group("range").split("-"):
            if value in ("*", "?"):
                continue
            if value.isdigit():
                if not low <= int(value) <= high:
                    return f"has {value}, outside {low}-{high}"
            elif value.lower()[:3] not in _NAMES.get(name, ()):
                allowed = f"{low}-{high}" + (f" or a name ({', '.join(_NAMES[name][:3])}, ...)"
                                              if name in _NAMES else "")
                return f"has {value!r}, which is not a {name}: use {allowed}"
        bounds = m.group("range").split("-")
        if len(bounds) == 2 and all(b.isdigit() for b in bounds) and int(bounds[0]) > int(bounds[1]):
            return f"has the range {part!r}, which runs backwards"
    return f"is not valid (a {name} is {low}-{high}, a range a-b, '*' or a step x/n)"
