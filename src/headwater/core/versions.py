"""Data versions: an opaque string that changes when an asset's content changes.

With a code version, the default data version is a hash of the code version and the
data versions of the inputs read, so re-running unchanged code on unchanged inputs yields
the same version and nothing downstream goes stale. Without one, Headwater cannot know
that the output is unchanged, so every materialization gets a new version.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable


def default_data_version(code_version: str | None, inputs: Iterable[tuple[str, str | None]], nonce: str) -> str:
    h = hashlib.sha256()
    if code_version is None:
        h.update(b"nonce\0" + nonce.encode())
    else:
        h.update(b"code\0" + code_version.encode())
        for key, version in sorted(inputs, key=lambda kv: kv[0]):
            h.update(b"\0" + key.encode() + b"=" + (version or "").encode())
    return h.hexdigest()[:16]
