from __future__ import annotations

import io
import json
import logging
import re
from collections.abc import Iterator

import pytest
from hpn_router.core.redact import Redactor
from hpn_router.edge.logsetup import (
    INFO,
    bridge_stdlib_to_loguru,
    configure_logging,
    emits,
    redacting_formatter,
    unconfigure_logging,
)
from loguru import logger

KEY = "AIzaSyA1b2C3d4E5f6G7h8I9j0KlMnOpQrStUvW"
REDACTOR = Redactor({"key_1": KEY})


@pytest.fixture(autouse=True)
def clean_loguru() -> Iterator[None]:
    yield
    unconfigure_logging()


@pytest.fixture
def sink() -> io.StringIO:
    return io.StringIO()


def lines(sink: io.StringIO) -> list[str]:
    return sink.getvalue().splitlines()


def records(sink: io.StringIO) -> list[dict]:
    return [json.loads(line) for line in lines(sink)]


def leaky_failure() -> None:
    secret = KEY  # noqa: F841 -- a local holding the key, as in real code
    raise ValueError(f"upstream rejected {KEY}")


def test_json_lines_with_bound_fields(sink: io.StringIO) -> None:
    configure_logging(level="info", fmt="json", redactor=REDACTOR, sink=sink)
    logger.bind(flow_id="f1", attempt=2).info("sent {}", "request")
    logger.warning("slow", latency_ms=812.5, tags=["a"], obj=object())
    first, second = records(sink)
    assert first["level"] == "info" and first["msg"] == "sent request"
    assert first["flow_id"] == "f1" and first["attempt"] == 2
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}[+-]\d\d:\d\d", first["time"])
    assert second["level"] == "warning" and second["latency_ms"] == 812.5
    assert second["tags"] == ["a"] and second["obj"].startswith("<object object")


def test_bound_field_cannot_overwrite_standard_fields(sink: io.StringIO) -> None:
    configure_logging(level="info", fmt="json", redactor=REDACTOR, sink=sink)
    logger.bind(msg="bound", level="x").info("real")
    (rec,) = records(sink)
    assert rec["msg"] == "real" and rec["_msg"] == "bound"
    assert rec["level"] == "info" and rec["_level"] == "x"


@pytest.mark.parametrize("fmt", ["json", "text"])
def test_pool_key_never_reaches_the_sink(sink: io.StringIO, fmt: str) -> None:
    configure_logging(level="debug", fmt=fmt, redactor=REDACTOR, sink=sink)  # type: ignore[arg-type]
    logger.info(f"message with {KEY}")
    logger.bind(key=KEY, nested={"headers": [KEY]}, authorization="Bearer tok").info("bound")
    try:
        leaky_failure()
    except ValueError:
        logger.exception("call failed")
    output = sink.getvalue()
    assert KEY[:12] not in output and KEY[-12:] not in output
    assert "<key:key_1>" in output
    assert "Bearer tok" not in output
    assert "leaky_failure" in output  # the traceback itself is kept
    if fmt == "json":
        exc = records(sink)[-1]["exception"]
        assert "ValueError: upstream rejected <key:key_1>" in exc


class Level(int):
    """An int subclass: rendered as a number, like an IntEnum."""


def test_every_kind_of_bound_field_is_redacted_in_the_json_line(sink: io.StringIO) -> None:
    # The sink's one-pass field redaction must match Redactor.redact_json of the fields:
    # names too (a key used as a field name), sensitive names, nested values, str subclasses.
    configure_logging(level="info", fmt="json", redactor=REDACTOR, sink=sink)
    logger.bind(
        **{KEY: "named by a key"},
        api_key="plain-looking",
        note=f"quoting {KEY}",
        pair=(KEY, 1),
        level_no=Level(3),
        ok=True,
        missing=None,
        ratio=0.5,
    ).info("fields")
    (rec,) = records(sink)
    assert KEY[:12] not in sink.getvalue()
    assert rec["<key:key_1>"] == "named by a key"
    assert rec["api_key"] == "<redacted>"
    assert rec["note"] == "quoting <key:key_1>"
    assert rec["pair"] == ["<key:key_1>", 1]
    assert (rec["level_no"], rec["ok"], rec["missing"], rec["ratio"]) == (3, True, None, 0.5)


def test_text_format(sink: io.StringIO) -> None:
    configure_logging(level="info", fmt="text", redactor=REDACTOR, sink=sink)
    logger.bind(flow_id="f1", note="two words").info("hello")
    (line,) = lines(sink)
    assert re.fullmatch(r'\d\d:\d\d:\d\d\.\d{3} INFO    hello flow_id=f1 note="two words"', line)


def test_level_filtering_and_names(sink: io.StringIO) -> None:
    configure_logging(level="WARN", fmt="json", redactor=REDACTOR, sink=sink)
    logger.info("hidden")
    logger.warning("shown")
    logger.error("also shown")
    assert [r["msg"] for r in records(sink)] == ["shown", "also shown"]


def test_info_lines_are_built_only_while_some_sink_takes_them(sink: io.StringIO) -> None:
    configure_logging(level="warn", fmt="json", redactor=REDACTOR, sink=sink)
    assert not emits(INFO) and emits(INFO + 10)
    other = logger.add(io.StringIO(), level="DEBUG")  # another sink (a test's capture) wants them again
    try:
        assert emits(INFO)
    finally:
        logger.remove(other)
    assert not emits(INFO)
    configure_logging(level="info", fmt="json", redactor=REDACTOR, sink=sink)
    assert emits(INFO)


@pytest.mark.parametrize(("level", "fmt"), [("verbose", "json"), ("info", "xml")])
def test_invalid_settings(sink: io.StringIO, level: str, fmt: str) -> None:
    with pytest.raises(ValueError):
        configure_logging(level=level, fmt=fmt, redactor=REDACTOR, sink=sink)  # type: ignore[arg-type]


def test_reconfigure_does_not_duplicate(sink: io.StringIO) -> None:
    other = io.StringIO()
    configure_logging(level="info", fmt="json", redactor=REDACTOR, sink=other)
    configure_logging(level="info", fmt="json", redactor=REDACTOR, sink=sink)
    configure_logging(level="info", fmt="text", redactor=REDACTOR, sink=sink)
    logger.info("once")
    assert len(lines(sink)) == 1 and lines(sink)[0].endswith("once")
    assert other.getvalue() == ""


def test_stdlib_bridge_forwards_and_redacts(sink: io.StringIO) -> None:
    configure_logging(level="debug", fmt="json", redactor=REDACTOR, sink=sink)
    bridge_stdlib_to_loguru(["hpn_test"])
    bridge_stdlib_to_loguru(["hpn_test"])  # idempotent
    stdlib = logging.getLogger("hpn_test.router")
    try:
        stdlib.debug("using %s for %s", KEY, "gemini")
        try:
            leaky_failure()
        except ValueError:
            stdlib.exception("boom {not a format field}")
    finally:
        parent = logging.getLogger("hpn_test")
        parent.handlers.clear()
        parent.propagate = True
    first, second = records(sink)
    assert first["msg"] == "using <key:key_1> for gemini"
    assert first["level"] == "debug" and first["logger"] == "hpn_test.router"
    assert second["level"] == "error" and second["msg"] == "boom {not a format field}"
    assert "upstream rejected <key:key_1>" in second["exception"]
    assert KEY[:12] not in sink.getvalue()


def test_bridged_logger_does_not_reach_root_handlers(sink: io.StringIO) -> None:
    configure_logging(level="info", fmt="json", redactor=REDACTOR, sink=sink)
    root_output = io.StringIO()
    root_handler = logging.StreamHandler(root_output)
    logging.getLogger().addHandler(root_handler)
    bridge_stdlib_to_loguru(["hpn_test2"])
    try:
        logging.getLogger("hpn_test2").warning("only once")
    finally:
        logging.getLogger().removeHandler(root_handler)
        logging.getLogger("hpn_test2").handlers.clear()
    assert root_output.getvalue() == ""
    assert len(lines(sink)) == 1


def test_redacting_formatter_covers_message_and_traceback() -> None:
    output = io.StringIO()
    handler = logging.StreamHandler(output)
    inner = logging.Formatter("%(levelname)s %(message)s")
    handler.setFormatter(redacting_formatter(inner, REDACTOR))
    plain = io.StringIO()
    unwrapped = logging.StreamHandler(plain)  # a second handler sharing the record
    log = logging.getLogger("mitm_test")
    log.addHandler(handler)
    log.addHandler(unwrapped)
    log.propagate = False
    try:
        try:
            leaky_failure()
        except ValueError:
            log.exception("Addon error: %s", f"?key={KEY}")
    finally:
        log.handlers.clear()
    text = output.getvalue()
    assert text.startswith("ERROR Addon error: ?key=<key:key_1>")
    assert "ValueError: upstream rejected <key:key_1>" in text
    assert KEY[:12] not in text
    assert KEY[:12] not in plain.getvalue().split("\n", 1)[1]  # cached traceback redacted


def test_redacting_formatter_default_inner() -> None:
    formatter = redacting_formatter(None, REDACTOR)
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "key %s", (KEY,), None)
    assert formatter.format(record) == "key <key:key_1>"


def test_bridge_keeps_custom_levels_and_survives_bad_records(sink: io.StringIO) -> None:
    configure_logging(level="debug", fmt="json", redactor=REDACTOR, sink=sink)
    stdlib = logging.getLogger("hpn_test3")
    other = logging.NullHandler()
    stdlib.addHandler(other)
    bridge_stdlib_to_loguru(["hpn_test3"])
    try:
        stdlib.log(25, "custom level")
        stdlib.info("too many args %s", KEY, "extra")  # getMessage() raises
    finally:
        stdlib.handlers.clear()
        stdlib.propagate = True
    custom, failed = records(sink)
    assert custom["msg"] == "custom level" and custom["level"] == "level 25"
    assert failed["level"] == "error" and "could not be forwarded" in failed["msg"]
    assert KEY[:12] not in sink.getvalue()


class Unprintable:
    def __str__(self) -> str:
        raise RuntimeError(KEY)


class BrokenStream(io.StringIO):
    def write(self, s: str) -> int:
        raise OSError("pipe closed")


def test_sink_errors_never_leak_or_raise(sink: io.StringIO, capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging(level="info", fmt="json", redactor=REDACTOR, sink=sink)
    logger.bind(obj=Unprintable()).info(f"carrying {KEY}")
    assert lines(sink) == ["log record could not be rendered: RuntimeError"]
    configure_logging(level="info", fmt="text", redactor=REDACTOR, sink=BrokenStream())
    logger.info(f"carrying {KEY}")
    captured = capsys.readouterr()
    assert KEY[:12] not in captured.err + captured.out
