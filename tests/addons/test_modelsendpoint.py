"""ModelsEndpoint in the router's chain: /v1/models from Gemini's live list plus the
aliases, one model by id, Gemini's own shape for Google's clients, and the list cached so
model pickers do not spend quota."""

from __future__ import annotations

from mitmproxy.test import taddons
from routerchain import RouterChain, chain_config, gemini_json, json_of

LISTING = {"models": [{"name": "models/gemini-2.5-flash", "displayName": "Gemini 2.5 Flash"}, {"name": "models/text-embedding-004"}]}


def chain() -> RouterChain:
    return RouterChain(gemini_json(LISTING), config=chain_config(models={"gpt-4o": "gemini-2.5-flash"}))


async def test_the_list_is_geminis_models_plus_the_aliases_and_is_fetched_once():
    router = chain()
    with taddons.context():
        first = await router.send("GET", "/v1/models")
        again = await router.send("GET", "/v1/models")
    [sent] = router.sent  # the second answer came from the cache
    assert sent.method == "GET" and sent.path == "/v1beta/models" and sent.query == "pageSize=1000"
    for flow in (first, again):
        listing = json_of(flow)
        assert listing["object"] == "list"
        assert [m["id"] for m in listing["data"]] == ["gemini-2.5-flash", "text-embedding-004", "gpt-4o"]


async def test_one_model_by_id_or_openais_404():
    router = chain()
    with taddons.context():
        found = await router.send("GET", "/v1/models/gpt-4o")
        missing = await router.send("GET", "/v1/models/nope")
    assert json_of(found)["id"] == "gpt-4o" and json_of(found)["object"] == "model"
    assert missing.response.status_code == 404 and json_of(missing)["error"]["code"] == "model_not_found"


async def test_googles_clients_get_geminis_own_shape():
    router = chain()
    with taddons.context():
        page = await router.send("GET", "/v1/models?pageSize=1", headers={"x-goog-api-key": "client-key"})
        missing = await router.send("GET", "/v1/models/nope", headers={"x-goog-api-key": "client-key"})
    assert [m["name"] for m in json_of(page)["models"]] == ["models/gemini-2.5-flash"] and json_of(page)["nextPageToken"]
    assert missing.response.status_code == 404 and json_of(missing)["error"]["status"] == "NOT_FOUND"


async def test_googles_clients_get_the_listings_errors_in_googles_envelope():
    router = chain()
    with taddons.context():
        bad_page = await router.send("GET", "/v1/models?pageToken=not-base64!", headers={"x-goog-api-key": "client-key"})
        missing = await router.send("GET", "/v1/models/nope", headers={"x-goog-api-key": "client-key"})
    error = json_of(bad_page)["error"]
    assert bad_page.response.status_code == 400
    assert (error["code"], error["status"], error["message"]) == (400, "INVALID_ARGUMENT", "Invalid page token.")
    error = json_of(missing)["error"]
    assert (error["code"], error["status"], error["message"]) == (404, "NOT_FOUND", "models/nope is not found.")
