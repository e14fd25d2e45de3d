"""LogRedaction: sets up the one redacted log output, from the config.

Our own records (loguru) go to stdout, the stream mitmproxy's own log lines use, formatted as
`logging.format` says; every line passes the Redactor first. mitmproxy's records (stdlib
logging) keep their handlers, whose formatters are wrapped so their output is redacted too.
"""

from __future__ import annotations

import logging
import sys

from hpn_router.config import RouterConfig
from hpn_router.core.redact import Redactor
from hpn_router.edge.logsetup import configure_logging, redacting_formatter


class LogRedaction:
    def __init__(self, redactor: Redactor) -> None:
        self.redactor = redactor

    def apply(self, config: RouterConfig) -> None:
        self.redactor.update(config.named_keys())
        configure_logging(level=config.logging.level, fmt=config.logging.format, redactor=self.redactor, sink=sys.stdout)
        self.wrap_root_handlers()

    def running(self) -> None:
        self.wrap_root_handlers()  # handlers mitmproxy installed after our configure

    def wrap_root_handlers(self) -> None:
        for handler in logging.getLogger().handlers:
            if not getattr(handler.formatter, "hpn_redacting", False):
                formatter = redacting_formatter(handler.formatter, self.redactor)
                formatter.hpn_redacting = True  # type: ignore[attr-defined]
                handler.setFormatter(formatter)
