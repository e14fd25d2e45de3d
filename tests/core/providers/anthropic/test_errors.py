from hpn_router.core.providers.anthropic.errors import AnthropicError, parse_anthropic_error


def test_the_envelope_and_the_spend_limit_code_are_read() -> None:
    details = b'"details":{"error_code":"enforced_spend_limit_reached"}'
    body = b'{"type":"error","error":{"type":"rate_limit_error","message":"monthly",' + details + b"}}"
    assert parse_anthropic_error(body) == AnthropicError("rate_limit_error", "monthly", "enforced_spend_limit_reached")


def test_anything_else_reads_as_an_empty_error() -> None:
    for body in (b"<html>502</html>", b"", None, b"[1]", b'{"error": "text"}'):
        assert parse_anthropic_error(body) == AnthropicError()
