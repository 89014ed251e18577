"""An OpenPGP key fingerprint as a person writes it (``gpg --fingerprint`` prints it in groups of four), and as
the registry compares it: in full, upper case, without spaces."""

from __future__ import annotations

import re

from registry.exceptions import InvalidInput

__all__ = ["normalize_fingerprint"]

_FINGERPRINT = re.compile(r"[0-9A-F]{40}|[0-9A-F]{64}")


def normalize_fingerprint(text: str, where: str) -> str:
    """A full OpenPGP fingerprint in upper case without spaces (``gpg --fingerprint`` prints it in groups).

    :raises InvalidInput: anything else, in particular a short or long key ID, which can be forged.
    """
    candidate = re.sub(r"\s+", "", text).upper().removeprefix("0X")
    if not _FINGERPRINT.fullmatch(candidate):
        raise InvalidInput(
            f"{where}: {text!r} is not a full key fingerprint (40 hex digits, as 'gpg --fingerprint KEY' prints "
            "it). Key IDs are too short to name a key safely."
        )
    return candidate
