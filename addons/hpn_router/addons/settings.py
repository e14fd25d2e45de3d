"""Settings: owns the `hpn_config` option, loads and validates the config, hands it out.

Usage:
    mitmdump -s addons/router.py --set hpn_config=configs/config.yaml

Without `hpn_config`, the file named by HPN_CONFIG, else configs/config.yaml (if present),
else the environment alone (HPN_API_KEYS, ...) configures the router.

Every reload after the first load is logged (`event: config_reload`): its trigger (`admin_api`
with the caller's address, `sighup`, or `option` for a changed `hpn_config`), its outcome
(`reloaded` or `refused` with the error) and what changed, by name only (config/diff.py).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Protocol

from loguru import logger
from mitmproxy import ctx

from hpn_router.config import ConfigError, RouterConfig, load_config
from hpn_router.config.diff import config_changes
from hpn_router.config.load import config_warnings

DEFAULT_CONFIG = Path(__file__).resolve().parents[3] / "configs" / "config.yaml"


class Configurable(Protocol):
    def apply(self, config: RouterConfig) -> None: ...


class Settings:
    def __init__(self, consumers: Sequence[Configurable], *, env: Callable[[], dict[str, str]] = lambda: dict(os.environ)) -> None:
        self.consumers = list(consumers)
        self.env = env
        self.config: RouterConfig | None = None

    def load(self, loader) -> None:  # type: ignore[no-untyped-def]
        loader.add_option(
            "hpn_config",
            str,
            "",
            "Path of the HPN Router YAML config. Default: $HPN_CONFIG, else configs/config.yaml, "
            "else the environment only (HPN_API_KEYS, HPN_GEMINI_BASE_URL, ...).",
        )

    def configure(self, updated: set[str]) -> None:
        if "hpn_config" not in updated:
            return
        error = self.reload(trigger="option")
        if error:
            # Logged through stdlib logging, which mitmproxy's ErrorCheck watches: an error
            # during start-up makes mitmdump exit non-zero. Later, the last good config stays.
            logging.getLogger("hpn.settings").error("Invalid configuration: %s", error)

    def reload(self, *, trigger: str = "option", by: str | None = None) -> str | None:
        """Load the config again and hand it out; the error message, or None. `trigger` and
        `by` (who asked, e.g. the admin caller's address) go into the reload's log line."""
        path = ctx.options.hpn_config or (str(DEFAULT_CONFIG) if DEFAULT_CONFIG.is_file() else None)
        previous = self.config
        log = logger.bind(event="config_reload", trigger=trigger, by=by)
        try:
            config = load_config(path, self.env())
        except ConfigError as e:
            if previous is not None:  # at start-up, configure reports it (and mitmdump exits)
                log.bind(outcome="refused", error=str(e)).error("Config reload ({}) refused; the previous config stays: {}", trigger, e)
            return str(e)
        self.config = config
        for warning in config_warnings(config):
            logger.bind(event="config_warning").warning("Config: {}", warning)
        for consumer in self.consumers:
            consumer.apply(config)
        _bound_bodies(config)
        if previous is not None:
            changes = config_changes(previous, config)
            log.bind(outcome="reloaded", **changes).info("Configuration reloaded ({})", trigger)
        return None

    def running(self) -> None:
        # Eager connections would dial the reverse target (or api.openai.com) on every client
        # connect, although the router answers everything itself (docs/mitmproxy.md#lazy-connections).
        if ctx.options.connection_strategy != "lazy":
            ctx.options.update(connection_strategy="lazy")


def _bound_bodies(config: RouterConfig) -> None:
    """mitmproxy buffers a request body whole before the `request` hook; with body_size_limit
    it stops reading once the body (chunked too) passes the limit and answers 413 itself.
    It bounds buffered responses too (502), which only passthrough answers are: Gemini's
    answers come through the router's own client, and relayed streams are not buffered."""
    limit = str(config.server.max_body_bytes)
    if "body_size_limit" in ctx.options and ctx.options.body_size_limit != limit:
        ctx.options.update(body_size_limit=limit)
