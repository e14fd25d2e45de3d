"""The flash cache's and stored Responses' commands against a real redis-server: one lead per
entry, leads lapse unless renewed, stored responses keep their TTL, and a lookup carries the
client's rate check."""

from __future__ import annotations

import asyncio

from hpn_router.core.access import ClientWindow
from hpn_router.edge.sharedstate import RedisStore

KEY = "c" * 64


async def test_a_cache_lookup_leads_once_and_the_answer_releases_the_lead(redis):
    a, b = RedisStore(redis.url), RedisStore(redis.url)
    try:
        assert await a.cache_lookup(KEY, "token-a", 10_000, lead=True) == (None, 1, None)  # A leads
        assert await b.cache_lookup(KEY, "token-b", 10_000, lead=True) == (None, 2, None)  # B sees A lead
        assert await b.cache_lookup(KEY, "token-b", 10_000, lead=False) == (None, 2, None)  # a no-store request may follow
        assert await b.cache_poll(KEY) == (None, True)
        await b.cache_finish(KEY, "token-b", None, 1000)  # not B's lead: it stays
        assert await b.cache_poll(KEY) == (None, True)
        await a.cache_finish(KEY, "token-a", b'{"answer": 1}', 60_000)
        assert await b.cache_poll(KEY) == (b'{"answer": 1}', False)
        assert await b.cache_lookup(KEY, "token-b", 10_000, lead=True) == (b'{"answer": 1}', 0, None)  # a hit takes no lead
        assert 59_000 < int(redis.command("PTTL", "hpn:v1:cache:{" + KEY + "}")) <= 60_000  # the cache's TTL
    finally:
        await a.close()
        await b.close()


async def test_a_lead_lapses_unless_renewed_by_its_holder(redis):
    a = RedisStore(redis.url)
    try:
        assert (await a.cache_lookup(KEY, "token-a", 200, lead=True))[1] == 1
        assert await a.cache_renew(KEY, "token-a", 60_000)
        assert not await a.cache_renew(KEY, "someone-else", 60_000)
        assert int(redis.command("PTTL", "hpn:v1:lead:{" + KEY + "}")) > 1000
        redis.command("PEXPIRE", "hpn:v1:lead:{" + KEY + "}", "1")
        await asyncio.sleep(0.05)
        assert await a.cache_poll(KEY) == (None, False)  # lapsed: followers go upstream themselves
        assert not await a.cache_renew(KEY, "token-a", 60_000)
    finally:
        await a.close()


async def test_a_stored_response_is_kept_with_its_ttl_and_deleted(redis):
    a = RedisStore(redis.url)
    try:
        await a.put_response("resp_1", b"entry", 5000)
        assert await a.get_response("resp_1") == b"entry" and await a.get_response("resp_2") is None
        assert redis.command("--scan", "--pattern", "hpn:v1:response:*").count("hpn:v1:response:") == 1
        assert "resp_1" not in redis.command("--scan")  # the id is digested
        await a.delete_response("resp_1")
        assert await a.get_response("resp_1") is None
    finally:
        await a.close()


async def test_a_cache_lookup_checks_the_clients_rate_first_in_the_same_evalsha(redis):
    """The client's shared rate rides on the lookup: admitted, it is counted and the lookup goes
    on; refused, no entry is read and no lead taken."""
    store = RedisStore(redis.url)
    client = ClientWindow("client_c", 1, 60030.0)
    await store.cache_lookup("warm", "t", 10_000, lead=False, client=ClientWindow("client_warm", 5, 60030.0))  # loads the script
    redis.command("CONFIG", "RESETSTAT")
    assert await store.cache_lookup(KEY, "token-a", 10_000, lead=True, client=client) == (None, 1, (True, 1, 0))
    await store.cache_finish(KEY, "token-a", b'{"answer": 1}', 60_000)
    assert await store.cache_lookup(KEY, "token-b", 10_000, lead=True, client=client) == (None, 0, (False, 1, 0))  # cached, yet refused
    assert await store.cache_lookup("other", "token-c", 10_000, lead=True, client=client) == (None, 0, (False, 1, 0))
    assert redis.command("EXISTS", "hpn:v1:lead:{other}").strip() == "0"  # a refused client takes no lead
    assert "cmdstat_evalsha:calls=4," in redis.command("INFO", "commandstats")  # the lookups and the finish: nothing else
    await store.close()
