"""The error tree: each error knows its status, OpenAI type and code, and its headers; one
renderer per client API writes it (OpenAI's envelope, Google's); every error the router answers
is declared in core/errors.py, and the module's docstring draws the tree as it is."""

from __future__ import annotations

import ast
import inspect
import json
from pathlib import Path

import pytest
from hpn_router.core import errors
from hpn_router.core.errors import (
    AttemptReplayRefused,
    ClientApi,
    DestinationRefused,
    InvalidRequest,
    InvalidRequestError,
    MethodNotAllowed,
    NotFoundError,
    NoUsableKeyError,
    PayloadTooLarge,
    ProxyAuthRequired,
    ProxyClosed,
    QuotaExhaustedError,
    RateLimitedError,
    RouterError,
    Unauthorized,
    Unresolved,
    UpstreamError,
    render,
    router_failed,
    to_openai_error,
)

PACKAGE = Path(errors.__file__).resolve().parents[1]


@pytest.mark.parametrize(
    ("error", "status", "type_"),
    [
        (RouterError("x"), 500, "server_error"),
        (InvalidRequestError("x", param="messages"), 400, "invalid_request_error"),
        (NotFoundError("x"), 404, "invalid_request_error"),
        (MethodNotAllowed("x", allowed=("GET", "POST")), 405, "invalid_request_error"),
        (PayloadTooLarge("x"), 413, "invalid_request_error"),
        (RateLimitedError("x", retry_after=1.2), 429, None),
        (QuotaExhaustedError("x"), 429, None),
        (NoUsableKeyError("x"), 503, None),
        (Unauthorized("x"), 401, "invalid_request_error"),
        (ProxyAuthRequired("x"), 407, "invalid_request_error"),
        (ProxyClosed("x"), 403, "invalid_request_error"),
        (DestinationRefused("x"), 403, "invalid_request_error"),
        (AttemptReplayRefused("x"), 403, "invalid_request_error"),
        (Unresolved("x"), 502, "server_error"),
        (UpstreamError("x", status=502), 502, "server_error"),
        (UpstreamError("x", status=403, code="permission_denied"), 403, "invalid_request_error"),
    ],
)
def test_each_error_is_openais_envelope_with_its_status(error, status, type_):
    got_status, body, headers = to_openai_error(error)
    envelope = json.loads(body)
    assert got_status == status and headers["content-type"] == "application/json"
    assert set(envelope) == {"error"} and set(envelope["error"]) == {"message", "type", "param", "code"}
    assert envelope["error"]["message"] == "x"
    if type_:
        assert envelope["error"]["type"] == type_


def test_headers_tell_clients_when_and_whether_to_retry():
    limited = to_openai_error(RateLimitedError("x", retry_after=1.2))[2]
    assert (limited["retry-after"], limited["retry-after-ms"]) == ("2", "1200")
    assert to_openai_error(RateLimitedError("x", retry_after=0))[2]["retry-after"] == "1"  # never "retry now"
    assert to_openai_error(QuotaExhaustedError("x"))[2]["x-should-retry"] == "false"
    assert to_openai_error(QuotaExhaustedError("x", retry_after=3600))[2]["retry-after"] == "3600"
    assert to_openai_error(NoUsableKeyError("x"))[2]["x-should-retry"] == "false"
    assert to_openai_error(MethodNotAllowed("x", allowed=("GET", "POST")))[2]["allow"] == "GET, POST"


def test_the_routers_own_failure_says_nothing_of_its_cause():
    status, body, _ = to_openai_error(router_failed())
    assert status == 500 and json.loads(body)["error"]["message"] == "The router failed to handle this request."


# One instance of every error in the tree, however its constructor is called.
EXAMPLES = {
    MethodNotAllowed: MethodNotAllowed("x", allowed=("POST",)),
    RateLimitedError: RateLimitedError("x", retry_after=1.5),
    QuotaExhaustedError: QuotaExhaustedError("x", retry_after=60),
    UpstreamError: UpstreamError("x", status=504),
}


def tree() -> list[type[RouterError]]:
    return [c for c in vars(errors).values() if inspect.isclass(c) and issubclass(c, RouterError)]


@pytest.mark.parametrize("cls", tree(), ids=lambda c: c.__name__)
@pytest.mark.parametrize("api", list(ClientApi))
def test_every_error_renders_with_its_status_in_every_client_format(cls, api):
    error = EXAMPLES.get(cls) or cls("x")
    status, body, headers = render(error, api)
    envelope = json.loads(body)["error"]
    assert status == error.status and 400 <= status < 600 and envelope["message"] == "x"
    assert headers == {"content-type": "application/json", **error.headers()}
    if api is ClientApi.ANTHROPIC:  # Anthropic's SDKs read the top-level type and error.type
        assert json.loads(body)["type"] == "error" and set(envelope) == {"type", "message"}
        assert envelope["type"] in {*errors.ANTHROPIC_TYPES.values(), "invalid_request_error", "api_error"}
    elif api is ClientApi.GEMINI:  # google-genai reads code, message and status
        assert envelope["code"] == status and envelope["status"].isupper()
    else:
        assert set(envelope) == {"message", "type", "param", "code"}


def test_a_google_client_gets_googles_envelope_with_the_details_it_can_act_on():
    status, body, headers = render(RateLimitedError("Every key is cooling.", retry_after=2.5), ClientApi.GEMINI)
    assert status == 429 and headers["retry-after"] == "3"
    assert json.loads(body) == {
        "error": {
            "code": 429,
            "message": "Every key is cooling.",
            "status": "RESOURCE_EXHAUSTED",
            "details": [
                {"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "RATE_LIMIT_EXCEEDED", "domain": "hpn-router"},
                {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "3s"},
            ],
        }
    }
    bad = json.loads(render(InvalidRequestError("messages: required", param="messages"), ClientApi.GEMINI)[1])["error"]
    violation = {"field": "messages", "description": "messages: required"}
    assert bad["status"] == "INVALID_ARGUMENT"
    assert bad["details"] == [{"@type": "type.googleapis.com/google.rpc.BadRequest", "fieldViolations": [violation]}]
    assert json.loads(render(router_failed(), ClientApi.GEMINI)[1]) == {
        "error": {"code": 500, "message": "The router failed to handle this request.", "status": "INTERNAL"}
    }


def test_invalid_request_is_the_one_class_for_a_client_mistake():
    assert InvalidRequest is InvalidRequestError
    with pytest.raises(ValueError) as raised:  # to a caller of the pure translators, a bad value like any other
        raise InvalidRequest("messages[2].role: unknown role", param="messages[2].role", code="invalid_role")
    error = raised.value
    assert (error.message, error.param, error.code) == ("messages[2].role: unknown role", "messages[2].role", "invalid_role")
    assert error.status == 400
    assert str(error) == error.message
    assert repr(error) == "InvalidRequestError('messages[2].role: unknown role', param='messages[2].role', code='invalid_role')"
    assert InvalidRequest("x").param is None and InvalidRequest("x").code is None


def test_the_docstring_draws_every_error_of_the_tree_under_its_parent():
    names = {c.__name__ for c in tree()}
    drawn = {}  # name -> its column in the drawing
    for line in (errors.__doc__ or "").splitlines():
        words = line.replace("├──", "").replace("└──", "").replace("│", "").split()
        if words and words[0] in names:
            drawn[words[0]] = line.index(words[0])
    assert set(drawn) == {c.__name__ for c in tree()}
    for cls in tree():
        if cls is not RouterError:
            assert drawn[cls.__name__] == drawn[cls.__base__.__name__] + 4, cls.__name__


def router_error_classes_outside_errors_py(package: Path) -> list[str]:
    """Classes anywhere in the package that subclass an error of the tree, except in core/errors.py."""
    names = {c.__name__ for c in tree()}
    found = []
    for module in sorted(package.rglob("*.py")):
        if module == package / "core" / "errors.py":
            continue
        for node in ast.walk(ast.parse(module.read_text())):
            bases = {getattr(b, "id", getattr(b, "attr", None)) for b in getattr(node, "bases", [])}
            if isinstance(node, ast.ClassDef) and bases & names:
                found.append(f"{module.relative_to(package).as_posix()}: {node.name}")
    return found


def test_every_error_the_router_answers_is_declared_in_errors_py(tmp_path):
    assert router_error_classes_outside_errors_py(PACKAGE) == []
    (tmp_path / "core").mkdir()
    (tmp_path / "core" / "errors.py").write_text("class RouterError(Exception): ...\n")
    (tmp_path / "addon.py").write_text("from x import errors\nclass Teapot(errors.RouterError):\n    status = 418\n")
    assert router_error_classes_outside_errors_py(tmp_path) == ["addon.py: Teapot"]  # the rule can fail


@pytest.mark.parametrize(
    ("error", "type_"),
    [
        (InvalidRequestError("x"), "invalid_request_error"),
        (errors.Unauthorized("x"), "authentication_error"),
        (errors.Refused("x"), "permission_error"),
        (errors.NotFoundError("x"), "not_found_error"),
        (errors.PayloadTooLarge("x"), "request_too_large"),
        (RateLimitedError("x", retry_after=1), "rate_limit_error"),
        (errors.QuotaExhaustedError("x"), "rate_limit_error"),
        (errors.NoUsableKeyError("x"), "overloaded_error"),
        (errors.UpstreamError("x", status=504), "timeout_error"),
        (errors.UpstreamError("x", status=502), "api_error"),
        (router_failed(), "api_error"),
    ],
)
def test_an_anthropic_client_gets_anthropics_envelope_with_the_type_of_the_status(error, type_):
    status, body, headers = render(error, ClientApi.ANTHROPIC)
    assert json.loads(body) == {"type": "error", "error": {"type": type_, "message": error.message}}
    assert status == error.status and headers == {"content-type": "application/json", **error.headers()}


def test_an_anthropic_client_is_told_when_to_retry():
    assert render(RateLimitedError("x", retry_after=2.5), ClientApi.ANTHROPIC)[2]["retry-after"] == "3"
