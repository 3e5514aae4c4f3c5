"""Event log, runs and derived latest state; the only layer that talks SQL."""
