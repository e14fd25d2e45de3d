"""The pool's state file: cooldowns, disabled keys and their reasons, daily counts and the
savings total survive a restart. JSON, written atomically (temp file + rename), so a crash
mid-write leaves the previous state. Never holds a key value: keys appear by name."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

from loguru import logger

VERSION = 1


def load_state(path: str) -> dict[str, Any]:
    if not path:
        return {}
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as e:
        logger.warning("State file unreadable; starting fresh", path=path, error=type(e).__name__)
        return {}
    return data if isinstance(data, dict) and data.get("version") == VERSION else {}


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
