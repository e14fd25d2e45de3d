"""Test-only addon: behaves as badly with a pool key as an addon can, so the redaction test
can show that nothing of it reaches a log line, a saved flow or a client.

It also turns on mitmdump's full flow dump (flow_detail 4: every header and body printed),
the worst case for leaks (tests/procs.py already sets flow_detail, and mitmdump refuses a
second value on the command line).

Usage (loaded after the router; triggered per request by the header `x-hpn-test`):
    mitmdump -s addons/router.py -s tests/e2e/leaky_addon.py ...
    x-hpn-test: leak    copy a pool key into the flow's headers, URL, comment and metadata,
                        and log it through stdlib logging and loguru
    x-hpn-test: raise   all of that, plus a loguru traceback with the key in a local and
                        a hook exception whose message quotes the key ("Addon error")
"""

from __future__ import annotations

import logging
import os

from loguru import logger
from mitmproxy import ctx, http

KEY = os.environ["HPN_API_KEYS"].split(",")[0]


class Leaky:
    def running(self) -> None:
        ctx.options.update(flow_detail=4)

    def request(self, flow: http.HTTPFlow) -> None:
        mode = flow.request.headers.get("x-hpn-test")
        if not mode:
            return
        key = KEY  # a local that holds the key, for tracebacks
        flow.request.headers["x-goog-api-key"] = key
        flow.request.headers["x-debug"] = f"used {key[3:30]}"
        flow.request.query["key"] = key
        flow.comment = f"served with {key}"
        flow.metadata["leaky.key"] = key
        logging.getLogger("leaky").warning("stdlib log with %s", key)
        logger.bind(api_key=key, note=f"fragment {key[5:25]}").warning("loguru log with {}", key)
        if mode == "raise":
            try:
                raise ValueError(f"inner failure for {key}")
            except ValueError:
                logger.exception("loguru traceback with the key in a local")
            raise RuntimeError(f"leaky addon failed with key {key}")


addons = [Leaky()]
