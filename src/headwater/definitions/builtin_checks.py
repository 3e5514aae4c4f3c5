"""Checks most projects need, for values that are tables: a pandas DataFrame, a pyarrow
Table, or a list of dicts (rows). Each returns a ``CheckDefinition`` to add to
``Definitions(checks=[...])``."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from headwater.core.keys import CoercibleToKey, to_key
from headwater.definitions.checks import CheckContext, CheckDefinition, CheckResult, make_check
from headwater.errors import HeadwaterError


def _rows(value: Any) -> int:
    if hasattr(value, "num_rows"):
        return int(value.num_rows)
    if hasattr(value, "shape"):
        return int(value.shape[0])
    return len(value)


def _column(value: Any, column: str) -> list[Any]:
    if hasattr(value, "column") and hasattr(value, "num_rows"):  # pyarrow
        if column not in value.column_names:
            raise HeadwaterError(f"no column {column!r} (columns: {', '.join(value.column_names)})")
        return value.column(column).to_pylist()
    if hasattr(value, "columns") and hasattr(value, "shape"):  # pandas
        if column not in value.columns:
            raise HeadwaterError(f"no column {column!r} (columns: {', '.join(map(str, value.columns))})")
        return [None if _isna(v) else v for v in value[column].tolist()]
    rows: Iterable[Any] = value
    out = []
    for row in rows:
        if not isinstance(row, dict) or column not in row:
            raise HeadwaterError(f"row {row!r} has no column {column!r}")
        out.append(row[column])
    return out


def _isna(v: Any) -> bool:
    try:
        return bool(v != v)  # NaN
    except Exception:  # noqa: BLE001
        return False


def row_count_at_least(asset: CoercibleToKey, n: int, *, severity: str = "error", blocking: bool = False
                       ) -> CheckDefinition:
    key = to_key(asset)

    def fn(value: Any) -> CheckResult:
        rows = _rows(value)
        return CheckResult(rows >= n, {"rows": rows, "minimum": n}, f"{rows} rows (at least {n} required)")

    return make_check(key, fn, name=f"row_count_at_least_{n}", severity=severity, blocking=blocking,
                      description=f"has at least {n} rows")


def column_not_null(asset: CoercibleToKey, column: str, *, severity: str = "error", blocking: bool = False
                    ) -> CheckDefinition:
    key = to_key(asset)

    def fn(value: Any) -> CheckResult:
        nulls = sum(1 for v in _column(value, column) if v is None)
        return CheckResult(nulls == 0, {"null_rows": nulls}, f"{nulls} null value(s) in {column}")

    return make_check(key, fn, name=f"not_null_{column}", severity=severity, blocking=blocking,
                      description=f"{column} is never null")


def unique(asset: CoercibleToKey, column: str, *, severity: str = "error", blocking: bool = False
           ) -> CheckDefinition:
    key = to_key(asset)

    def fn(value: Any) -> CheckResult:
        values = _column(value, column)
        seen: set[Any] = set()
        dups = 0
        for v in values:
            if v in seen:
                dups += 1
            seen.add(v)
        return CheckResult(dups == 0, {"duplicate_rows": dups}, f"{dups} duplicate value(s) in {column}")

    return make_check(key, fn, name=f"unique_{column}", severity=severity, blocking=blocking,
                      description=f"{column} is unique")


def freshness(asset: CoercibleToKey, *, severity: str = "warn") -> CheckDefinition:
    """The asset's freshness policy, evaluated as a check when it runs (and by ``headwater check``)."""
    key = to_key(asset)

    def fn(context: CheckContext) -> CheckResult:
        if context.freshness is None:
            raise HeadwaterError(f"asset {key} has no freshness policy to check")
        mat = context.materialization
        status = context.freshness.evaluate(mat.data_time if mat else None, context.now)
        return CheckResult(status.state.value in ("fresh", "warn"), {"state": status.state.value},
                           status.reason)

    return make_check(key, fn, name="freshness", severity=severity, blocking=False,
                      description="meets its freshness policy")
