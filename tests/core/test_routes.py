"""Which endpoint a method and path are for, and which methods a path allows."""

from __future__ import annotations

import pytest
from hpn_router.core.errors import ClientApi, MethodNotAllowed, to_openai_error
from hpn_router.core.routes import Endpoint, allowed_methods, client_api, match


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("GET", "/v1/chat/completions", ("POST",)),
        ("OPTIONS", "/v1/embeddings/", ("POST",)),
        ("POST", "/v1/models", ("GET",)),
        ("DELETE", "/health", ("GET", "HEAD")),
        ("GET", "/v1beta/models/gemini-2.5-flash:generateContent", ("POST",)),
        ("POST", "/v1beta/models", ("GET",)),
        ("PUT", "/v1/models/gpt-4o", ("GET",)),
        ("POST", "/v1/responses/resp_1", ("GET", "DELETE")),
    ],
)
def test_wrong_method_names_the_allowed_ones(method: str, path: str, allowed: tuple[str, ...]) -> None:
    route = match(method, path)
    assert route.endpoint is Endpoint.METHOD_NOT_ALLOWED and route.allowed == allowed
    assert allowed_methods(path) == allowed


def test_one_stored_response_is_read_or_deleted_by_its_id() -> None:
    for method in ("GET", "DELETE"):
        route = match(method, "/v1/responses/resp_%41b/")
        assert route.endpoint is Endpoint.RESPONSE and route.response_id == "resp_Ab"
    assert match("GET", "/v1/responses/resp_1/input_items").endpoint is Endpoint.NOT_FOUND


def test_anthropics_paths_are_served_with_claude_codes_query() -> None:
    assert match("POST", "/v1/messages?beta=true").endpoint is Endpoint.MESSAGES
    assert match("POST", "/v1/messages/count_tokens?beta=true").endpoint is Endpoint.COUNT_TOKENS
    assert match("GET", "/v1/messages").allowed == ("POST",)
    assert match("POST", "/v1/messages/batches").endpoint is Endpoint.NOT_FOUND


def test_unknown_paths_allow_nothing() -> None:
    assert match("GET", "/v1/nope").endpoint is Endpoint.NOT_FOUND
    assert allowed_methods("/v1/nope") == ()
    assert allowed_methods("/v1beta/models/m:unknownAction") == ()


def test_method_not_allowed_is_a_405_with_allow() -> None:
    status, body, headers = to_openai_error(MethodNotAllowed("Method GET is not allowed on /v1/chat/completions.", allowed=("POST",)))
    assert status == 405 and headers["allow"] == "POST"
    assert b'"code": "method_not_allowed"' in body and b'"type": "invalid_request_error"' in body


@pytest.mark.parametrize(
    ("path", "api"),
    [
        ("/v1beta/models/gemini-2.5-flash:generateContent?alt=sse", ClientApi.GEMINI),
        ("/v1/models/gemini-2.5-flash:generateContent", ClientApi.GEMINI),  # google-genai with api_version="v1"
        ("/v1/models/m:unknownAction", ClientApi.GEMINI),
        ("/v1beta/models", ClientApi.GEMINI),
        ("/v1beta/files/abc", ClientApi.GEMINI),  # a path of Google's the router does not serve: still a Google client
        ("/v1beta", ClientApi.GEMINI),
        ("/v1/chat/completions", ClientApi.OPENAI),
        ("/v1/messages", ClientApi.ANTHROPIC),
        ("/v1/messages/count_tokens?beta=true", ClientApi.ANTHROPIC),
        ("/v1/messages/batches", ClientApi.ANTHROPIC),  # not served: still an Anthropic client
        ("/v1/messagesx", ClientApi.OPENAI),
        ("/v1/models/gpt-4o", ClientApi.OPENAI),
        ("/v1/models", ClientApi.OPENAI),
        ("/v1betax/models", ClientApi.OPENAI),
        ("/admin/keys", ClientApi.OPENAI),
        ("", ClientApi.OPENAI),  # a CONNECT request has no path
    ],
)
def test_the_path_alone_tells_a_google_client(path: str, api: ClientApi) -> None:
    assert client_api(path) is api


def test_the_dashboards_paths_are_the_routers_own():
    for method, path in (("GET", "/dashboard"), ("GET", "/dashboard/"), ("GET", "/dashboard/data"), ("POST", "/dashboard/login")):
        assert match(method, path).endpoint is Endpoint.DASHBOARD
    assert match("POST", "/dashboard/logout").endpoint is Endpoint.DASHBOARD
    assert match("GET", "/dashboard/login").allowed == ("POST",)
    assert match("GET", "/dashboard/other").endpoint is Endpoint.NOT_FOUND
