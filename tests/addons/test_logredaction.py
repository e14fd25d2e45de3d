"""LogRedaction: from the config, one redacted log output; mitmproxy's own handlers are
redacted too, and the keys of a reloaded config are redacted from then on."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator

import pytest
from hpn_router.addons.logredaction import LogRedaction
from hpn_router.config import parse_config
from hpn_router.core.redact import Redactor
from hpn_router.edge.logsetup import unconfigure_logging
from loguru import logger

OLD, NEW = "AIzaSyLogRedactionOldKey0123456789abcd", "AIzaSyLogRedactionNewKey0123456789abcd"


def config(key: str):
    return parse_config({"key_pool": {"keys": [{"name": "pool-key", "key": key}], "state_file": ""}, "logging": {"format": "text"}}, {})


@pytest.fixture
def root_output() -> Iterator[io.StringIO]:
    """A handler like the one mitmproxy installs on the root logger."""
    output = io.StringIO()
    handler = logging.StreamHandler(output)
    handler.setFormatter(logging.Formatter("%(message)s"))
    logging.getLogger().addHandler(handler)
    yield output
    logging.getLogger().removeHandler(handler)
    unconfigure_logging()


def test_our_lines_and_mitmproxys_are_redacted_with_the_current_keys(root_output, capsys):
    redaction = LogRedaction(Redactor({}))
    redaction.apply(config(OLD))
    logger.warning("upstream said {}", OLD)
    logging.getLogger("mitmproxy.proxy.test").warning("client sent %s", OLD)
    redaction.apply(config(NEW))  # a reload with another key
    logger.warning("now {}", NEW)
    logging.getLogger("mitmproxy.proxy.test").warning("client sent %s", NEW)
    ours = capsys.readouterr().out
    assert OLD not in ours and NEW not in ours and ours.count("pool-key") == 2
    theirs = root_output.getvalue()
    assert OLD not in theirs and NEW not in theirs and theirs.count("pool-key") == 2


def test_handlers_installed_later_are_wrapped_once_running(root_output):
    redaction = LogRedaction(Redactor({}))
    redaction.apply(config(OLD))
    later = io.StringIO()
    handler = logging.StreamHandler(later)
    logging.getLogger().addHandler(handler)
    try:
        redaction.running()
        redaction.running()  # wrapping twice would not hurt, but is not done
        logging.getLogger("mitmproxy.later").warning("key %s", OLD)
    finally:
        logging.getLogger().removeHandler(handler)
    assert OLD not in later.getvalue() and "pool-key" in later.getvalue()
    assert getattr(handler.formatter, "hpn_redacting", False)
