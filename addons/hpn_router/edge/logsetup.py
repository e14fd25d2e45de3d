"""One redacted log output for the router: loguru plus bridged stdlib loggers.

`configure_logging` replaces loguru's default stderr sink with one sink that
formats each record itself (JSON lines or text) and passes the finished
line -- message, bound fields and traceback -- through the `Redactor`.
`bridge_stdlib_to_loguru` forwards chosen stdlib loggers (`hpn...`) into
that sink. mitmproxy's own root handlers stay in place (no
`basicConfig(force=True)`, which would remove them); wrap their formatters
with `redacting_formatter` so their output is redacted too.

Usage:
    configure_logging(level="info", fmt="json", redactor=redactor)
    bridge_stdlib_to_loguru(["hpn"])
    for h in logging.getLogger().handlers:
        h.setFormatter(redacting_formatter(h.formatter, redactor))
"""

from __future__ import annotations

import json
import logging
import sys
import traceback
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Literal, TextIO

from loguru import logger

from hpn_router.core.redact import REDACTED, SENSITIVE_HEADERS, Redactor

INFO = 20  # loguru's severity number for INFO


def emits(severity: int) -> bool:
    """Whether some loguru sink takes a record of this severity. The per-request info lines
    (cost, request) are built only then: at `logging.level: warn` building their fields cost
    2-4 % of a routed request's CPU for lines no sink writes. Reads loguru's own minimum over
    its sinks (loguru 0.7 keeps it on its core); True when that cannot be read."""
    min_level = getattr(getattr(logger, "_core", None), "min_level", None)
    return not isinstance(min_level, int) or severity >= min_level


LEVELS = {
    "trace": "TRACE",
    "debug": "DEBUG",
    "info": "INFO",
    "warn": "WARNING",
    "warning": "WARNING",
    "error": "ERROR",
    "critical": "CRITICAL",
}
_RESERVED = ("time", "level", "msg", "exception")


@dataclass
class _Installed:
    handler_ids: list[int] = field(default_factory=list)


# loguru's `logger` is process-global, so the record of which of its sinks
# are ours has to be as well; it lets a config reload replace them instead
# of adding duplicates, without `logger.remove()` dropping other sinks.
_INSTALLED = _Installed()


def configure_logging(
    *,
    level: str,
    fmt: Literal["json", "text"],
    redactor: Redactor,
    sink: TextIO | None = None,
) -> None:
    """Install (or replace) the router's single loguru sink.

    `sink` defaults to `sys.stderr` as it is at call time. Safe to call again
    on config reload: the previous sink is removed first.
    """
    loguru_level = LEVELS.get(level.lower())
    if loguru_level is None:
        raise ValueError(f"unknown log level {level!r}; use one of {sorted(LEVELS)}")
    if fmt not in ("json", "text"):
        raise ValueError(f"unknown log format {fmt!r}; use 'json' or 'text'")
    unconfigure_logging()
    _remove_handler(0)  # loguru's default stderr sink
    write = _Sink(sink if sink is not None else sys.stderr, fmt, redactor)
    # diagnose=False: loguru never prints local variables (a key in a local
    # would leak). The sink renders records itself and formats tracebacks
    # with `traceback`, which does not print locals either.
    handler_id = logger.add(write, level=loguru_level, format=_unused_format, diagnose=False, backtrace=False)
    _INSTALLED.handler_ids.append(handler_id)


def unconfigure_logging() -> None:
    """Remove the sinks `configure_logging` added (for shutdown and tests)."""
    while _INSTALLED.handler_ids:
        _remove_handler(_INSTALLED.handler_ids.pop())


def _remove_handler(handler_id: int) -> None:
    try:
        logger.remove(handler_id)
    except ValueError:
        pass  # someone already removed it; the goal state holds


class _Sink:
    """Renders, redacts and writes one record per line.

    It never raises: on a sink error loguru would print the *unredacted*
    record to stderr, and a log call must not fail the request anyway.
    """

    def __init__(self, stream: TextIO, fmt: str, redactor: Redactor) -> None:
        self._stream = stream
        self._render = _render_json if fmt == "json" else _render_text
        self._redactor = redactor

    def __call__(self, message: Any) -> None:
        try:
            line = self._render(message.record, self._redactor)
        except Exception as exc:  # a rendering bug must not leak the record
            line = f"log record could not be rendered: {type(exc).__name__}"
        try:
            self._stream.write(line + "\n")
            self._stream.flush()
        except (OSError, ValueError):
            pass  # closed or broken stream: nowhere left to report it


def _unused_format(record: Any) -> str:
    # A callable format, unlike a string one, does not make loguru render
    # the exception a second time for a message the sink ignores.
    return "{message}"


def _render_json(record: Any, redactor: Redactor) -> str:
    """Each field is redacted on its own: redacting the finished line could
    let a header-line pattern swallow the rest of the JSON."""
    line: dict[str, Any] = {
        "time": record["time"].isoformat(timespec="milliseconds"),
        "level": record["level"].name.lower(),
        "msg": redactor.redact(record["message"]),
    }
    for key, value in _extra(record, redactor).items():
        # A bound field named like a standard one must not overwrite it.
        line[f"_{key}" if key in _RESERVED else key] = value
    exception = _exception_text(record)
    if exception:
        line["exception"] = redactor.redact(exception)
    return _JSON_LINE.encode(line)


# One encoder for every line: `json.dumps` with arguments builds a new one per call (a third of
# the encoding time of a request's line).
_JSON_LINE = json.JSONEncoder(ensure_ascii=False, default=str)


def _render_text(record: Any, redactor: Redactor) -> str:
    """Fields are redacted one by one (a bound `authorization=...` is caught
    by name), then the whole line once more (message and traceback)."""
    parts = [
        record["time"].strftime("%H:%M:%S.") + f"{record['time'].microsecond // 1000:03d}",
        f"{record['level'].name:<7}",
        record["message"],
    ]
    for key, value in _extra(record, redactor).items():
        parts.append(f"{key}={_text_value(value)}")
    text = " ".join(parts)
    exception = _exception_text(record)
    return redactor.redact(f"{text}\n{exception.rstrip()}" if exception else text)


def _extra(record: Any, redactor: Redactor) -> dict[str, Any]:
    """`redactor.redact_json` of the fields made JSON values (`_jsonable`), in one pass: most
    fields are names, numbers and flags, and an info line carries about twenty of them."""
    redact = redactor.redact
    result: dict[str, Any] = {}
    for k, v in record["extra"].items():
        name = str(k)
        kind = type(v)
        if kind in _JSON_NUMBERS:
            result[redact(name)] = v
        elif kind is str:
            result[redact(name)] = REDACTED if name.lower() in SENSITIVE_HEADERS else redact(v)
        else:
            result.update(redactor.redact_json({name: _jsonable(v)}))
    return result


_JSON_NUMBERS = frozenset({int, float, bool, type(None)})  # exactly these: nothing to redact in them


_JSON_SCALARS = frozenset({str, int, float, bool, type(None)})


def _jsonable(value: Any) -> Any:
    """Turn arbitrary bound objects into JSON values *before* redaction, so
    no object is stringified after the redactor has looked at it."""
    if type(value) in _JSON_SCALARS or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return str(value)


def _text_value(value: Any) -> str:
    if isinstance(value, str) and value and not any(c.isspace() or c in "=\"'" for c in value):
        return value
    return json.dumps(value, ensure_ascii=False)


def _exception_text(record: Any) -> str:
    exc = record["exception"]
    if exc is None:
        return ""
    return "".join(traceback.format_exception(exc.type, exc.value, exc.traceback))


class _ToLoguru(logging.Handler):
    """Forwards stdlib records to loguru, keeping the logger name as a
    bound `logger` field (call-site file/line are not part of our formats,
    so the usual frame-depth search is unnecessary)."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            try:
                level: str | int = logger.level(record.levelname).name
            except ValueError:
                level = record.levelno
            logger.opt(exception=record.exc_info).bind(logger=record.name).log(level, record.getMessage())
        except Exception:
            # Not `handleError`: it prints the record's arguments, unredacted,
            # to stderr. loguru's sink redacts this line.
            logger.opt(exception=True).bind(logger=record.name).error("stdlib log record could not be forwarded: {!r}", record.msg)


def bridge_stdlib_to_loguru(logger_names: Iterable[str]) -> None:
    """Send the named stdlib loggers (and their children) to loguru only.

    propagate=False keeps their records out of mitmproxy's root handlers, so
    each line is written once. The level is set to DEBUG so that loguru's
    sink level alone decides. Calling it again does not add a second
    forwarder.
    """
    for name in logger_names:
        stdlib_logger = logging.getLogger(name)
        for handler in list(stdlib_logger.handlers):
            if isinstance(handler, _ToLoguru):
                stdlib_logger.removeHandler(handler)
        stdlib_logger.addHandler(_ToLoguru())
        stdlib_logger.setLevel(logging.DEBUG)
        stdlib_logger.propagate = False


class _RedactingFormatter(logging.Formatter):
    def __init__(self, inner: logging.Formatter, redactor: Redactor) -> None:
        super().__init__()
        self._inner = inner
        self._redactor = redactor

    def format(self, record: logging.LogRecord) -> str:
        text = self._inner.format(record)
        if record.exc_text:
            # The inner formatter caches the traceback on the record, where
            # other handlers' formatters would pick it up unredacted.
            record.exc_text = self._redactor.redact(record.exc_text)
        return self._redactor.redact(text)


def redacting_formatter(inner: logging.Formatter | None, redactor: Redactor) -> logging.Formatter:
    """Wrap a handler's formatter so its output, tracebacks included, is
    redacted (for mitmproxy's root handlers, which we must not replace)."""
    return _RedactingFormatter(inner or logging.Formatter(), redactor)
