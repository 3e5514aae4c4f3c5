"""``@check``: tests of an asset's content, run right after the asset in the same run.

A check function may take the asset's value (a parameter named after the asset, or
``value``), ``context`` (a ``CheckContext``) and resources. A check that takes no value
parameter queries the data itself (a warehouse table) and the value is never loaded.
It returns a ``CheckResult`` or a bool; raising counts as failing, with the error kept.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from headwater.core.freshness import FreshnessPolicy
from headwater.core.keys import AssetKey, CoercibleToKey, to_key
from headwater.core.specs import CheckSpec
from headwater.definitions.assets import CONTEXT_PARAM, location_of, parameter_names
from headwater.errors import DefinitionError

if TYPE_CHECKING:
    from headwater.core.events import AssetMaterialized  # the events' module is not needed to declare checks


@dataclass(frozen=True, slots=True)
class CheckResult:
    """The outcome of one check.

    ``severity`` (``"warn"`` / ``"error"``) overrides the check's declared severity for this
    result, for producers that decide it themselves (dbt's ``warn_if`` / ``error_if``); a
    failing result blocks downstream only when its severity is ``error``.
    ``CheckResult.not_run(...)`` says the check did not run at all (dbt skipped the test):
    it is recorded in the run's log, not as a result, so it neither passes nor fails the
    check, whose status stays what the data last showed (``not_run`` for new data).
    """

    passed: bool
    metadata: Mapping[str, Any] = field(default_factory=dict)
    description: str = ""
    severity: str | None = None
    ran: bool = True

    def __post_init__(self) -> None:
        if self.severity is not None and self.severity not in SEVERITIES:
            raise DefinitionError(f"CheckResult(severity={self.severity!r}): must be one of {', '.join(SEVERITIES)}")

    @staticmethod
    def not_run(description: str = "", metadata: Mapping[str, Any] | None = None) -> CheckResult:
        return CheckResult(False, dict(metadata or {}), description or "the check did not run", ran=False)


SEVERITIES = ("warn", "error")


@dataclass(frozen=True)
class CheckContext:
    asset_key: AssetKey
    check_name: str
    materialization: AssetMaterialized | None
    freshness: FreshnessPolicy | None
    now: float
    resources: Mapping[str, Any]
    log: Any


@dataclass(frozen=True, slots=True)
class CheckDefinition:
    spec: CheckSpec
    fn: Callable[..., Any]
    value_param: str | None
    context_param: bool
    resource_params: tuple[str, ...] = ()

    @property
    def asset(self) -> AssetKey:
        return self.spec.asset

    @property
    def name(self) -> str:
        return self.spec.name


def check(asset: CoercibleToKey, *, name: str | None = None, severity: str = "error", blocking: bool = False,
          description: str | None = None) -> Callable[[Callable[..., Any]], CheckDefinition]:
    """Declare a check on ``asset``. ``blocking=True`` stops its downstream in the same run on failure."""
    key = to_key(asset)

    def wrap(fn: Callable[..., Any]) -> CheckDefinition:
        return make_check(key, fn, name=name or fn.__name__, severity=severity, blocking=blocking,
                          description=description if description is not None else (fn.__doc__ or "").strip() or None,
                          location=location_of(fn))

    return wrap


def make_check(key: AssetKey, fn: Callable[..., Any], *, name: str, severity: str, blocking: bool,
               description: str | None, location: Any = None) -> CheckDefinition:
    try:
        spec = CheckSpec(key, name, severity, blocking, description, location)
    except ValueError as exc:
        raise DefinitionError(str(exc)) from None
    params = parameter_names(fn)
    value_param = next((p for p in params if p in (key.name, "value")), None)
    others = tuple(p for p in params if p not in (value_param, CONTEXT_PARAM))
    return CheckDefinition(spec, fn, value_param, CONTEXT_PARAM in params, others)
