"""The router's own error when no key could answer, through the attempt loop."""

from __future__ import annotations

from failovertools import Clock, ScriptedTransport, invalid_key, make_pool, rate_limited, run
from hpn_router.core.errors import NoUsableKeyError, QuotaExhaustedError, RateLimitedError, UpstreamError
from hpn_router.core.transport import AttemptResult


async def test_every_key_cooling_gives_429_with_earliest_recovery():
    transport = ScriptedTransport({"K1": [rate_limited("20s")], "K2": [rate_limited("7s")], "K3": [rate_limited("50s")]})
    result = await run(make_pool(), transport, Clock())
    assert isinstance(result.error, RateLimitedError)
    assert result.error.retry_after == 7.0
    assert result.error.headers() == {"retry-after": "7", "retry-after-ms": "7000"}


async def test_only_daily_quotas_left_is_insufficient_quota():
    transport = ScriptedTransport({k: [rate_limited("5s", per_day=True)] for k in ("K1", "K2", "K3")})
    result = await run(make_pool(), transport, Clock())
    assert isinstance(result.error, QuotaExhaustedError)
    assert result.error.headers()["x-should-retry"] == "false"


async def test_every_key_disabled_is_503():
    transport = ScriptedTransport({"K1": [invalid_key()], "K2": [invalid_key()]})
    result = await run(make_pool(2), transport, Clock())
    assert isinstance(result.error, NoUsableKeyError) and result.error.status == 503


async def test_retries_are_bounded_by_retry_count():
    transport = ScriptedTransport({k: [AttemptResult(status=503, body=b"{}")] for k in ("K1", "K2", "K3", "K4", "K5")})
    result = await run(make_pool(5), transport, Clock(), retry_count=2)
    assert len(transport.calls) == 3
    assert isinstance(result.error, UpstreamError) and result.error.status == 503


async def test_timeout_on_every_key_is_504():
    transport = ScriptedTransport({"K1": [AttemptResult(error="timeout")]})
    result = await run(make_pool(1), transport, Clock())
    assert isinstance(result.error, UpstreamError) and result.error.status == 504
