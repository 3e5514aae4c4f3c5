"""The schema revision this Headwater reads and writes, apart from the migration machinery:
a reader that does not import SQLAlchemy (``sqlite_reads.py``) checks it too."""

HEAD = "0007"
"""The newest revision in ``storage/migrations/versions``; a test keeps the two in step."""
