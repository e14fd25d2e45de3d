"""ModelsEndpoint in the router's chain: /v1/models from Gemini's live list plus the
aliases, one model by id, Gemini's own shape for Google's clients, and the list cached so
model pickers do not spend quota."""

from __future__ import annotations

from hpn_router.core.transport import AttemptResult
from mitmproxy.test import taddons
from routerchain import FakeTransport, RouterChain, chain_config, gemini_json, json_of

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


MISTRAL_KEY = "mistralListKey0123456789abcdef"
MISTRAL_LISTING = {
    "object": "list",
    "data": [
        {"id": "mistral-small-latest", "object": "model", "owned_by": "mistralai", "capabilities": {"completion_chat": True}},
        {"id": "mistral-embed", "object": "model", "owned_by": "mistralai", "capabilities": {"completion_chat": False}},
        {"id": "mistral-ocr-latest", "object": "model", "owned_by": "mistralai", "capabilities": {"completion_chat": False, "ocr": True}},
    ],
}


def two_providers(*mistral_answers: AttemptResult) -> tuple[RouterChain, FakeTransport]:
    config = chain_config(models={"gpt-4o": "gemini-2.5-flash"}, mistral={"keys": [{"name": "mistral_1", "key": MISTRAL_KEY}]})
    router = RouterChain(gemini_json(LISTING), gemini_json(LISTING), config=config)
    mistral = FakeTransport(*mistral_answers)
    router.routing.transports["mistral"] = mistral
    return router, mistral


async def test_every_providers_models_each_owned_by_its_maker():
    router, mistral = two_providers(gemini_json(MISTRAL_LISTING))
    with taddons.context():
        flow = await router.send("GET", "/v1/models")
        anthropic = await router.send("GET", "/v1/models", headers={"anthropic-version": "2023-06-01"})
    [(sent, key)] = mistral.sent
    assert (sent.provider, sent.method, sent.path, key) == ("mistral", "GET", "/v1/models", MISTRAL_KEY)
    owners = {m["id"]: m["owned_by"] for m in json_of(flow)["data"]}
    assert owners == {
        "gemini-2.5-flash": "google",
        "text-embedding-004": "google",
        "mistral-small-latest": "mistralai",
        "mistral-embed": "mistralai",  # OCR serves neither chat nor embeddings: not listed
        "gpt-4o": "hpn-router",
    }
    assert [m["id"] for m in json_of(anthropic)["data"]] == list(owners)  # Anthropic's shape, the same set


async def test_a_provider_that_fails_is_left_out_and_asked_again_next_time():
    router, mistral = two_providers()
    mistral.answers = FailingUntilFixed()  # every try fails (500) until it is fixed
    with taddons.context():
        first = await router.send("GET", "/v1/models")
        mistral.answers.fixed = True
        second = await router.send("GET", "/v1/models")
    assert first.response.status_code == 200
    assert [m["id"] for m in json_of(first)["data"]] == ["gemini-2.5-flash", "text-embedding-004", "gpt-4o"]
    assert "mistral-small-latest" in [m["id"] for m in json_of(second)["data"]]  # not served from a list missing Mistral
    assert len(router.sent) == 2


class FailingUntilFixed(list):
    fixed = False

    def pop(self, index: int = -1) -> AttemptResult:
        return gemini_json(MISTRAL_LISTING) if self.fixed else gemini_json({"message": "Internal Server Error"}, 500)


async def test_when_every_provider_fails_the_client_gets_the_failure():
    invalid = {"error": {"code": 400, "message": "API key not valid. Please pass a valid API key.", "status": "INVALID_ARGUMENT"}}
    router = RouterChain(gemini_json(invalid, 400), config=chain_config())
    with taddons.context():
        flow = await router.send("GET", "/v1/models")
    assert flow.response.status_code >= 400 and "error" in json_of(flow)
