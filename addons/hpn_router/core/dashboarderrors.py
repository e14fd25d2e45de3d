"""Each key's last error on the dashboard, decided without I/O: when its last attempt failed,
the outcome's name and the upstream status; how Redis keeps it (one JSON value per key name in
one hash, never a key's value), and the later of this process's and another's.

Usage:
    errors = LastErrors()
    errors.note(attempts)
    errors.of("key_1", shared)        # {"at", "outcome", "status"} or None
    # With Redis: errors.take_unsent() -> encode_error each; give_back when the write failed;
    # decode_error what was read back.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from hpn_router.core.attempts import Attempt
from hpn_router.core.metrics import outcome_label
from hpn_router.core.sharedstate import PREFIX

ERRORS_HASH = PREFIX + "dash:errors"  # in Redis: key name -> its last error (JSON)

LastError = tuple[float, str, int | None]  # a key's last failed attempt: when, the outcome's name, the status


class LastErrors:
    """Each key's last failed attempt: when, the outcome's name (core/metrics.OUTCOMES) and the
    upstream status. Only names of configured keys are kept (`forget_except` after a reload)."""

    def __init__(self) -> None:
        self._errors: dict[str, LastError] = {}
        self._unsent: dict[str, LastError] = {}

    def note(self, attempts: Iterable[Attempt]) -> None:
        for attempt in attempts:
            label = outcome_label(attempt.outcome)
            if label != "ok":
                self._errors[attempt.key_name] = self._unsent[attempt.key_name] = (attempt.ended, label, attempt.status)

    def of(self, key: str, shared: Mapping[str, LastError] | None = None) -> dict[str, Any] | None:
        """The key's last error: this process's, or the later one another wrote (`shared`)."""
        error = self._errors.get(key)
        other = shared.get(key) if shared is not None else None
        if other is not None and (error is None or other[0] > error[0]):
            error = other
        return None if error is None else {"at": error[0], "outcome": error[1], "status": error[2]}

    def take_unsent(self) -> dict[str, LastError]:
        out, self._unsent = self._unsent, {}
        return out

    def give_back(self, errors: Mapping[str, LastError]) -> None:
        for name, error in errors.items():
            self._unsent.setdefault(name, error)

    def forget_except(self, names: Iterable[str]) -> None:
        keep = set(names)
        self._errors = {name: error for name, error in self._errors.items() if name in keep}
        self._unsent = {name: error for name, error in self._unsent.items() if name in keep}


def encode_error(error: LastError) -> str:
    return json.dumps(list(error), separators=(",", ":"))


def decode_error(raw: bytes | str | None) -> LastError | None:
    """A last error as stored; None when there is none or it is malformed."""
    if raw is None:
        return None
    try:
        at, outcome, status = json.loads(raw)
        return (float(at), str(outcome), None if status is None else int(status))
    except (ValueError, TypeError):
        return None
