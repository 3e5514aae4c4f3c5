"""``DbtOptions``: how dbt is invoked — target, vars, full refresh, threads, extra flags.

Four layers, later ones winning: what ``hw.dbt.load(...)`` was given; a resource named
``dbt`` holding a ``DbtOptions`` (per set of Definitions, e.g. a prod deployment); the
environment of the process; and the run's tags (per run, recorded with it, and carried by
queued runs to the worker that runs them)::

    headwater materialize 'fct_orders+' --tag dbt/full_refresh=true
    headwater materialize 'group:marts' --tag 'dbt/vars={"start": "2024-01-01"}' --tag dbt/target=prod
    HEADWATER_DBT_FULL_REFRESH=1 headwater materialize 'fct_orders+'
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from headwater.errors import DefinitionError

RESOURCE_NAME = "dbt"
ENV_FULL_REFRESH = "HEADWATER_DBT_FULL_REFRESH"
ENV_VARS = "HEADWATER_DBT_VARS"
ENV_TARGET = "HEADWATER_DBT_TARGET"
TAG_FULL_REFRESH = "dbt/full_refresh"
TAG_VARS = "dbt/vars"
TAG_TARGET = "dbt/target"
_TRUE = ("1", "true", "yes")
_FALSE = ("0", "false", "no", "")


@dataclass(frozen=True)
class DbtOptions:
    """Flags for every dbt command Headwater runs; ``None`` means "not set here"."""

    target: str | None = None
    vars: Mapping[str, Any] | None = None
    full_refresh: bool | None = None
    threads: int | None = None
    extra_args: tuple[str, ...] = ()
    env: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))

    def __post_init__(self) -> None:
        if self.vars is not None and not isinstance(self.vars, Mapping):
            raise DefinitionError(f"DbtOptions(vars=...) must be a mapping, not {type(self.vars).__name__}")
        if self.threads is not None and (not isinstance(self.threads, int) or self.threads < 1):
            raise DefinitionError(f"DbtOptions(threads=...) must be a positive integer, not {self.threads!r}")
        object.__setattr__(self, "extra_args", tuple(self.extra_args))

    def over(self, base: DbtOptions) -> DbtOptions:
        """These options laid over ``base``: what is set here wins, vars and env merge."""
        return DbtOptions(
            target=self.target if self.target is not None else base.target,
            vars={**(base.vars or {}), **(self.vars or {})} if (self.vars or base.vars) else None,
            full_refresh=self.full_refresh if self.full_refresh is not None else base.full_refresh,
            threads=self.threads if self.threads is not None else base.threads,
            extra_args=(*base.extra_args, *self.extra_args),
            env={**base.env, **self.env},
        )

    def global_args(self) -> list[str]:
        """Flags every command takes (parse, build, test, source freshness)."""
        args: list[str] = []
        if self.target:
            args += ["--target", self.target]
        if self.vars:
            args += ["--vars", json.dumps(dict(self.vars), default=str)]
        return args

    def build_args(self) -> list[str]:
        args = self.global_args()
        if self.full_refresh:
            args.append("--full-refresh")
        if self.threads:
            args += ["--threads", str(self.threads)]
        return args + list(self.extra_args)


def from_environment(environ: Mapping[str, str] | None = None) -> DbtOptions:
    env = os.environ if environ is None else environ
    parsed = _json_object(env.get(ENV_VARS), ENV_VARS)
    flag = env.get(ENV_FULL_REFRESH, "").strip().lower()
    return DbtOptions(target=env.get(ENV_TARGET) or None, vars=parsed,
                      full_refresh=True if flag in ("1", "true", "yes") else None)


def _json_object(text: str | None, what: str) -> dict[str, Any] | None:
    """dbt's ``--vars`` from an environment variable or a run tag: a JSON object, or nothing."""
    if not text:
        return None
    try:
        parsed = json.loads(text)
    except ValueError as exc:
        raise DefinitionError(f"{what} must be a JSON object: {exc} (got {text!r})") from None
    if not isinstance(parsed, dict):
        raise DefinitionError(f"{what} must be a JSON object, not {text!r}")
    return parsed


def from_tags(tags: Mapping[str, str]) -> DbtOptions:
    """The options a run's tags set (``headwater materialize --tag dbt/full_refresh=true``)."""
    parsed = _json_object(tags.get(TAG_VARS), f"run tag {TAG_VARS}")
    flag = tags.get(TAG_FULL_REFRESH)
    full_refresh: bool | None = None
    if flag is not None:
        text = flag.strip().lower()
        if text not in _TRUE + _FALSE:
            raise DefinitionError(f"run tag {TAG_FULL_REFRESH} must be true or false, not {flag!r}")
        full_refresh = text in _TRUE
    return DbtOptions(target=tags.get(TAG_TARGET) or None, vars=parsed, full_refresh=full_refresh)


def effective(base: DbtOptions, resources: Mapping[str, Any], extra: Sequence[DbtOptions] = ()) -> DbtOptions:
    """Load-time options, then the ``dbt`` resource, then the environment, then ``extra``
    (the run's tags): the more specific to one run, the later it comes and the more it wins."""
    opts = base
    resource = resources.get(RESOURCE_NAME)
    if isinstance(resource, DbtOptions):
        opts = resource.over(opts)
    opts = from_environment().over(opts)
    for more in extra:
        opts = more.over(opts)
    return opts

