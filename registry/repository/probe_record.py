"""What a probe found out about a server (which conditional writes it honours, whether it locks), kept in the state
folder (``servers/``, a file per server address) for :data:`TRAITS_TTL`, so that the next command does not probe
again. Written atomically; a file that cannot be read, is stale or names another server is as none."""

from __future__ import annotations

import contextlib
import hashlib
import json
import time
from pathlib import Path
from typing import Any

from registry._util import atomic_write

__all__ = ["TRAITS_TTL", "ProbeRecord"]

#: How long what a probe found about a server is trusted (in seconds).
TRAITS_TTL = 3600.0


class ProbeRecord:
    """The record of the server at ``address`` (a base URL, an endpoint and bucket) under ``state_dir``; nothing is
    kept where there is no state folder."""

    def __init__(self, state_dir: str | None, address: str) -> None:
        self._address = address
        name = hashlib.sha256(address.encode()).hexdigest()[:32]
        self._file = Path(state_dir) / "servers" / f"{name}.json" if state_dir else None

    def load(self) -> dict[str, Any] | None:
        """What was found, if it was found within :data:`TRAITS_TTL` about this server."""
        if self._file is None:
            return None
        try:
            data = json.loads(self._file.read_bytes())
            if data["server"] != self._address or not 0 <= time.time() - float(data["probed"]) < TRAITS_TTL:
                return None
        except (OSError, ValueError, KeyError, TypeError):
            return None
        return data if isinstance(data, dict) else None

    def save(self, found: dict[str, Any]) -> None:
        """Keep ``found`` (JSON values); best effort."""
        if self._file is None:
            return
        with contextlib.suppress(OSError):
            self._file.parent.mkdir(parents=True, exist_ok=True)
            atomic_write(self._file, json.dumps({**found, "server": self._address, "probed": time.time()}).encode())
