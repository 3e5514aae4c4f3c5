"""The dbt child process: run one dbt command, streaming its structured events to the parent.

Run as a script (``python dbt_child.py <dbt args>``), never imported by Headwater: it must
not import the ``headwater`` package, so starting it costs no more than starting dbt. The
fork server (``dbt_server.py``, also a script) imports it as a module and calls ``run`` in
each child it forks.

It invokes dbt through ``dbtRunner`` (dbt's programmatic API) with a callback that writes
the events the parent asked for (``HEADWATER_DBT_EVENTS``, plus every error) as JSON lines
to the pipe ``HEADWATER_DBT_EVENT_FD`` — the same JSON as ``--log-format json`` prints, but
only those events, so dbt does no extra formatting work for Headwater. A watchdog thread
stops dbt as Ctrl-C would if the parent process dies (a killed worker leaves no dbt behind).
The exit code is dbt's: 0 success, 1 some nodes failed, 2 dbt itself failed.

Started ahead of time (``HEADWATER_DBT_WAIT=1``, see ``prewarm`` in ``invocation.py``), it
imports dbt first and then waits for its command on stdin — one JSON line ``{"args": [...],
"events": [...]}`` — so the seconds dbt takes to import overlap Headwater's own start-up;
an empty stdin (the parent exited without using it) ends it.
"""

import json
import os
import signal
import sys
import threading
import time


def _watch_parent(parent: int) -> None:
    while True:
        time.sleep(0.5)
        if os.getppid() != parent:
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(10)
            os._exit(130)


def load_dbt():  # type: ignore[no-untyped-def]
    """Import dbt: its runner, and how to turn one of its events into a dict."""
    from dbt.cli.main import dbtRunner

    try:
        from dbt_common.events.functions import msg_to_dict
    except ImportError:  # older dbt: the same conversion, by hand
        from google.protobuf.json_format import MessageToDict

        def msg_to_dict(msg):  # type: ignore[no-untyped-def]
            return MessageToDict(msg, preserving_proto_field_name=True)

    return dbtRunner, msg_to_dict


def watch(parent: int) -> None:
    """Stop dbt as Ctrl-C would if ``parent`` dies; Ctrl-C itself must reach dbt (a worker
    may have ignored SIGINT, the fork server does)."""
    signal.signal(signal.SIGINT, signal.default_int_handler)
    threading.Thread(target=_watch_parent, args=(parent,), name="headwater-watchdog", daemon=True).start()


def run(args, wanted, out) -> int:  # type: ignore[no-untyped-def]
    """Run ``dbt <args>``, writing the ``wanted`` events (and every error) to ``out``."""
    dbtRunner, msg_to_dict = load_dbt()
    lock = threading.Lock()

    def forward(msg) -> None:  # type: ignore[no-untyped-def]
        info = msg.info
        if info.name in wanted or info.level == "error":
            line = json.dumps(msg_to_dict(msg), default=str)
            with lock:
                out.write(line + "\n")

    result = dbtRunner(callbacks=[forward]).invoke(list(args))
    with lock:
        out.flush()
    if result.success:
        return 0
    if isinstance(result.exception, KeyboardInterrupt):
        return 130
    if result.exception is not None:
        print(f"{type(result.exception).__name__}: {result.exception}", file=sys.stderr)
        return 2
    return 1


def main() -> int:
    watch(os.getppid())
    out = os.fdopen(int(os.environ["HEADWATER_DBT_EVENT_FD"]), "w", buffering=1)
    wanted = frozenset(filter(None, os.environ.get("HEADWATER_DBT_EVENTS", "").split(",")))
    args = sys.argv[1:]
    if os.environ.get("HEADWATER_DBT_WAIT") == "1":
        load_dbt()
        line = sys.stdin.readline()
        if not line.strip():
            return 0  # never used
        command = json.loads(line)
        args, wanted = command["args"], frozenset(command["events"])
    return run(args, wanted, out)


if __name__ == "__main__":
    sys.exit(main())
