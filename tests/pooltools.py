"""A small key pool and the outcomes its tests report (tests/core/test_keypool.py and the
mirrors of the modules cut from it: test_keystates, test_quotabudgets, test_poolsaving)."""

from __future__ import annotations

from hpn_router.config import KeyConfig
from hpn_router.core.classify import Outcome, Verdict
from hpn_router.core.keypool import KeyPool

M = "gemini-2.5-flash"


def pool(n: int = 3, **kw) -> KeyPool:
    keys = [KeyConfig(name=f"key_{i + 1}", key=f"secret-{i + 1}", **kw) for i in range(n)]
    return KeyPool(keys, cooldown_seconds=60)


def no_answer(kind: str = "timeout") -> Outcome:
    return Outcome(Verdict.UNANSWERED, kind)
