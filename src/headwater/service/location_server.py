"""The process that owns a code location's interpreter (``python -m headwater.service.location_server``).

It imports the user's code once, reports the definitions as data and the files they were
read from, then runs the steps it is sent, in a few threads, writing their events to the
store itself. The protocol is described in ``execution/location_process.py``. Loading
failures are reported with the user's own traceback, and the process ends: the workspace
shows the location as broken and starts a new process when asked to reload it.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import traceback
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import IO, Any

_SKIP_DIRS = {"target", "dbt_packages", "logs", "__pycache__", ".git", ".venv", ".headwater"}
_DBT_SUFFIXES = {".sql", ".yml", ".yaml", ".csv", ".py", ".md"}


def main() -> None:
    config = json.loads(sys.argv[1])
    proto: IO[bytes] = os.fdopen(os.dup(1), "wb", buffering=0)
    os.dup2(2, 1)  # the user's prints go to stderr; stdout is the protocol's alone
    sys.stdout = sys.stderr
    lock = threading.Lock()

    try:
        import orjson

        dumps = orjson.dumps
    except ImportError:  # an environment without orjson still speaks the protocol
        def dumps(message: Any) -> bytes:
            return json.dumps(message).encode()

    def send(message: dict[str, Any]) -> None:
        line = dumps(message) + b"\n"
        with lock:
            proto.write(line)

    try:
        defs, data = _load(config)
    except BaseException as exc:  # noqa: BLE001 - reported to the workspace verbatim
        tb = getattr(exc, "user_traceback", "") or traceback.format_exc()
        send({"op": "loaded", "ok": False, "error": str(exc) or type(exc).__name__, "traceback": tb})
        return
    send({"op": "loaded", "ok": True, "data": data, "files": source_files(config), "pid": os.getpid()})
    _serve(defs, send, int(config.get("threads") or 4))


def _load(config: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    from headwater.definitions.definitions import Definitions
    from headwater.definitions.definitions_data import definitions_to_data
    from headwater.definitions.external_deps import allow_external_deps
    from headwater.definitions.locations_config import LocationConfig

    loc = LocationConfig.from_dict(config)
    if loc.working_dir not in sys.path:
        sys.path.insert(0, loc.working_dir)
    with allow_external_deps():
        if loc.dbt:
            from headwater.integrations.dbt.config import load_from_config

            projects = load_from_config({"project_dir": loc.dbt}, Path(loc.working_dir), f"location {loc.name}")
            defs = Definitions(assets=projects)
        else:
            from headwater.definitions.loader import load_definitions

            defs = load_definitions(loc.definitions_location())
    if _uses_automation(defs):
        import headwater.automation.data_types  # noqa: F401 - conditions, schedules and sensors as data
    return defs, definitions_to_data(defs, loc.name)


def _uses_automation(defs: Any) -> bool:
    """Whether ``defs`` declares schedules, sensors or automation conditions: describing
    them as data needs the automation layer's types, which a location without them does not
    import (a sixth of a small location's start)."""
    if defs.schedules or defs.sensors:
        return True
    specs = [s for d in defs.assets_defs for s in d.specs] + [src.spec for src in defs.sources.values()]
    return any(spec.automation is not None for spec in specs)


def source_files(config: dict[str, Any]) -> list[list[Any]]:
    """The files this location's definitions were read from, with size and mtime: every
    module imported from the location's folders (not from an environment), and a dbt
    project's files. Any of them changing means the definitions must be read again."""
    roots = [Path(config["working_dir"]).resolve()]
    if config.get("file"):
        roots.append(Path(config["file"]).resolve().parent)
    paths: set[str] = set()
    for module in list(sys.modules.values()):
        f = getattr(module, "__file__", None)
        if not f or "site-packages" in f or "dist-packages" in f:
            continue
        p = Path(f).resolve()
        if any(root in p.parents for root in roots) and not _in_skipped(p, roots):
            paths.add(str(p))
    if config.get("dbt"):
        for folder, dirs, files in os.walk(config["dbt"]):
            dirs[:] = [d for d in dirs if d not in _SKIP_DIRS and not d.startswith(".")]
            paths.update(str(Path(folder) / f) for f in files if Path(f).suffix in _DBT_SUFFIXES)
    from headwater.definitions.definitions_cache import file_stats

    return file_stats(sorted(paths))


def _in_skipped(path: Path, roots: list[Path]) -> bool:
    return any(part in _SKIP_DIRS for part in path.parts[len(roots[0].parts):])


def _serve(defs: Any, send: Any, threads: int) -> None:
    # What running a step needs is imported by the first step (a reload that only reads the
    # definitions, then stops the process, never pays for it).
    envs: dict[tuple[str, str], tuple[Any, Any]] = {}
    env_lock = threading.Lock()
    abandoned: dict[int, threading.Event] = {}  # the steps running now, by id

    def environment(store_url: str, values: dict[str, Any]) -> tuple[Any, Any]:
        key = (store_url, json.dumps(values, sort_keys=True))
        with env_lock:
            if key not in envs:
                from headwater.storage.sql.store import open_store
                from headwater.values.filesystem import value_store_from_config

                envs[key] = (open_store(store_url), value_store_from_config(values))
            return envs[key]

    def run(message: dict[str, Any], given_up: threading.Event) -> None:
        from headwater.core.events import ErrorInfo
        from headwater.execution.location_process import pack, unpack
        from headwater.execution.requests import StepOutcome
        from headwater.execution.step_execution import execute_step

        request = unpack(message["request"])
        try:
            store, values = environment(message["store"], message["values"])
            if request.timeout is not None:
                # Its time runs from now: not while it waited for a thread, nor while a new
                # process imported the store and opened it (seconds on a loaded machine, which
                # timed a retry out before it had even written that it started).
                send({"op": "started", "id": message["id"]})
            outcome = execute_step(defs, store, values, request, given_up)
        except Exception as exc:  # noqa: BLE001 - a bug or a store failure: report, keep serving
            outcome = StepOutcome(request.step_key, request.attempt, False, failed_keys=request.asset_keys,
                                  error=ErrorInfo.from_exception(exc, traceback.format_exc()), recorded=False)
        finally:
            abandoned.pop(message["id"], None)
        send({"op": "outcome", "id": message["id"], "outcome": pack(outcome)})

    def call(message: dict[str, Any]) -> None:
        from headwater.execution.location_process import pack, unpack
        from headwater.service.location_calls import run_call

        try:
            result = run_call(defs, message["kind"], message["target"], unpack(message["args"]))
            reply = {"op": "result", "id": message["id"], "ok": True, "result": pack(result)}
        except BaseException as exc:  # noqa: BLE001 - the user's error goes home as text
            reply = {"op": "result", "id": message["id"], "ok": False, "type": type(exc).__name__,
                     "error": str(exc), "traceback": traceback.format_exc()}
        send(reply)

    pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="location-step")
    try:
        for line in sys.stdin:
            message = json.loads(line)
            op = message.get("op")
            if op == "stop":
                break
            if op == "step":
                abandoned[message["id"]] = given_up = threading.Event()
                pool.submit(run, message, given_up)
            elif op == "abandon":
                event = abandoned.get(message["id"])
                if event is not None:
                    event.set()
            elif op == "call":  # a thread each: a sensor that hangs (abandoned at home) holds no one else up
                threading.Thread(target=call, args=(message,), name="location-call", daemon=True).start()
            elif op == "ping":
                send({"op": "pong", "pid": os.getpid()})
    finally:
        pool.shutdown(wait=True)
        for store, _values in envs.values():
            store.close()


if __name__ == "__main__":
    main()
