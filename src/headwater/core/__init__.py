"""Pure domain model: keys, specs, graphs, selection, versions, events and status.

Nothing in here performs I/O, reads the clock or imports outside the standard library.
"""
