"""Automation: schedules, sensors and declarative conditions, ticked by the daemon.

Every trigger speaks in assets: it requests the materialization of an asset selection,
never "run task X". Decisions are pure functions of (definitions, stored state, now);
the daemon loop only calls them and records what they decided.
"""
