"""The pool's state file: cooldowns, disabled keys and their reasons, daily counts and the
savings total survive a restart. JSON, written atomically (temp file + rename), so a crash
mid-write leaves the previous state. Never holds a key value nor a piece of one: keys appear
by a SHA-256 digest of their value (KeyConfig.fingerprint).

One router owns one state file: `StateLock` holds an exclusive lock on `<state file>.lock`
for the life of the process, so a second router started in the same folder is refused
instead of silently overwriting the first one's state.
"""

from __future__ import annotations

import fcntl
import json
import os
import tempfile
from pathlib import Path
from typing import Any

from loguru import logger

# 2: keys by the digest of their value (1 filed them by name, which moved state between keys).
VERSION = 2


class StateFileInUse(Exception):
    """Another process holds the state file's lock; the message names the fix."""


def load_state(path: str) -> dict[str, Any]:
    """The saved state, or {} (with a warning) when there is none this version can use."""
    if not path:
        return {}
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as e:
        logger.warning("State file unreadable; starting fresh", path=path, error=type(e).__name__)
        return {}
    if not isinstance(data, dict):
        logger.warning("State file is not a JSON object; starting fresh", path=path)
        return {}
    if data.get("version") != VERSION:
        logger.warning("State file is from another version of the router; starting fresh", path=path, version=str(data.get("version")))
        return {}
    return data


def save_state(path: str, state: dict[str, Any]) -> None:
    if not path:
        return
    target = Path(path)
    tmp: str | None = None
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".state-", dir=target.parent)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump({"version": VERSION, **state}, f)
        os.replace(tmp, target)
    except OSError as e:  # a read-only folder must not break request handling
        logger.warning("Could not write the state file", path=path, error=type(e).__name__)
        if tmp:
            Path(tmp).unlink(missing_ok=True)


class StateLock:
    """An exclusive, non-blocking flock on `<state file>.lock`. The kernel drops it when the
    process ends, however it ends, so a crash never leaves a stale lock behind."""

    def __init__(self, path: str, fd: int) -> None:
        self.path = path
        self._fd: int | None = fd

    @classmethod
    def acquire(cls, state_file: str) -> StateLock:
        """Raises StateFileInUse when another process holds it, OSError when the folder
        cannot hold a lock file."""
        lock_path = Path(f"{state_file}.lock")
        lock_path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 32).decode("ascii", "replace").strip()
            os.close(fd)
            raise StateFileInUse(
                f"key_pool.state_file {state_file} is in use by another router"
                + (f" (process {holder})" if holder.isdigit() else "")
                + "; give this router its own state file: set HPN_STATE_FILE (or key_pool.state_file) to another path, "
                'or HPN_STATE_FILE="" to keep no state'
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        return cls(state_file, fd)

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the only descriptor drops the flock
            self._fd = None
