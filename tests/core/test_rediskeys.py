"""Where routers sharing a Redis keep each thing: key names hold digests, never names or values."""

from __future__ import annotations

from hpn_router.core.rediskeys import cache_entry_key, cache_lead_key, cooldown_key, response_key, sent_keys


def test_cooldown_keys_are_digests_whatever_the_names():
    key = cooldown_key(("proj with spaces:and colons", "models/x"))
    assert key.startswith("hpn:v1:cd:") and " " not in key and key.count(":") == 3
    assert cooldown_key(("a", "b:c")) != cooldown_key(("a:b", "c"))


def test_a_cache_entry_and_its_lead_share_a_hash_tag_and_name_nothing_but_the_digest():
    key = "a" * 64  # core/cachekey.py: a sha256, per client
    entry, lead = cache_entry_key(key), cache_lead_key(key)
    assert entry != lead and entry.endswith("{" + key + "}") and lead.endswith("{" + key + "}")  # one Cluster slot: one script


def test_a_stored_response_key_is_a_digest_of_whatever_id_a_client_names():
    named = response_key("resp_1\r\nFLUSHALL {tag} \udcff")
    assert named.startswith("hpn:v1:response:") and len(named) == len("hpn:v1:response:") + 32
    assert named.isascii() and named != response_key("resp_2")


def test_sent_counters_are_digests_of_the_group_whatever_it_holds():
    names = sent_keys("key:" + "f" * 64, 5, "2026-12-02") + sent_keys("anthropic-group:org 1", 5, "2026-12-02")
    assert all(n.startswith("hpn:v1:sent:") and "f" * 40 not in n and " " not in n and "org" not in n for n in names)
    assert names[1].endswith(":m:5") and names[2].endswith(":m:4") and names[0].endswith(":d:2026-12-02")
