"""KeyRouting: sends each translated request upstream with a pool key, failing over.

Runs after Translation in the `request` hook. Translation leaves a plan in the flow's context
(`UpstreamPlan`: method, path, provider, the bodies of embedding batches); this addon runs the
attempt loop (`core/failover.py`) with the plan's provider transport and then either sets
`flow.response` to the upstream answer (key values scrubbed from error bodies), or, for a
stream that was accepted, points the flow at the in-process relay so mitmproxy streams it to
the client as it arrives. A client that disconnects cancels its upstream attempts. A plan
that takes several upstream requests (batches, the model lists' parts and pages) is routed
by addons/multiroute.py with this addon's attempt loop.

A plan with fallbacks (`fallbacks:` in the config) moves to the next model when the first
one's provider could not answer (core/failover.run_with_fallbacks); the flow then carries the
serving model's plan, so its answer is decoded as that provider's and `X-HPN-Served-By` names it.

The pool is PoolKeeper's (built from each config, state file); the transports are handed in
(`transports`, by provider name), so tests route with a scripted one and no sockets.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Protocol

from loguru import logger
from mitmproxy import connection, http

from hpn_router.addons.answers import answer_error, apply_plan, is_client_flow, local_response
from hpn_router.addons.attempt_flows import record_attempts
from hpn_router.addons.flowcontext import FallbackPlan, PlannedUpstream, UpstreamPlan, context
from hpn_router.addons.multiroute import route_batches, route_parts, upstream_request
from hpn_router.addons.requestids import request_id
from hpn_router.addons.routinglog import log_fallback, log_passed_over, log_rotation, log_served, log_skipped
from hpn_router.config import RouterConfig
from hpn_router.core.attempts import FailoverResult
from hpn_router.core.errors import RouterError, router_failed
from hpn_router.core.failover import QuotaGate, WaitPolicy, run_with_failover
from hpn_router.core.fallbacks import Fallback, run_with_fallbacks
from hpn_router.core.keypool import KeyPool
from hpn_router.core.redact import Redactor, redact_key_values
from hpn_router.core.state import RouterState
from hpn_router.core.transport import AttemptResult, Transport, UpstreamRequest
from hpn_router.edge.relay import StreamRelay
from hpn_router.edge.relayrequest import TOKEN_HEADER
from hpn_router.edge.upstream import AnthropicTransport, GeminiTransport, MistralTransport


class ProviderTransport(Transport, Protocol):
    """A transport that follows the config (its base URL, its timeouts) on each reload."""

    def configure(self, config: RouterConfig) -> None: ...


class KeyRouting:
    def __init__(
        self,
        state: RouterState,
        *,
        relay: StreamRelay | None = None,
        transports: Mapping[str, ProviderTransport] | None = None,
        clock: Callable[[], float] = time.time,
        quota_gate: Callable[[http.HTTPFlow], QuotaGate | None] = lambda flow: None,
        admit_client: Callable[[http.HTTPFlow], Awaitable[RouterError | None]] | None = None,
    ) -> None:
        self.state = state
        self.clock = clock
        # Budgets counted in a shared Redis, when there is one; its first call also checks the
        # client's shared rate when nothing before it did (addons/sharedstate.py).
        self.quota_gate = quota_gate
        self.admit_client = admit_client  # that check alone, before requests sent at once (the model lists)
        self.config: RouterConfig | None = None
        self.transports: dict[str, ProviderTransport] = dict(
            transports or {"gemini": GeminiTransport(), "mistral": MistralTransport(), "anthropic": AnthropicTransport()}
        )
        self.waits = WaitPolicy()
        self.relay = relay or StreamRelay()
        self._in_flight: dict[str, set[asyncio.Future[None]]] = {}
        self._redactor: tuple[KeyPool, Redactor] | None = None  # the pool it was built for

    def apply(self, config: RouterConfig) -> None:
        settings = config.key_pool
        self.waits = WaitPolicy(max_wait_seconds=settings.max_wait_seconds, backoff_seconds=settings.retry_backoff_ms / 1000)
        for transport in self.transports.values():
            transport.configure(config)
        # The relay reads and discards the body mitmproxy forwards with a stream's request; a
        # translated body can outgrow the client's a little.
        self.relay.max_body_bytes = 2 * config.server.max_body_bytes
        self.config = config

    async def running(self) -> None:
        await self.relay.start()

    async def done(self) -> None:
        for tasks in self._in_flight.values():
            for task in tasks:
                task.cancel()
        await self.relay.stop()
        for transport in self.transports.values():
            await transport.close()

    async def request(self, flow: http.HTTPFlow) -> None:
        plan = context(flow).upstream
        if plan is None or not is_client_flow(flow):
            return
        # The attempts run as a task we hold, so a client that disconnects cancels its
        # upstream request (client_disconnected fires while this hook is still pending).
        task = asyncio.ensure_future(self._route(flow, plan))
        tasks = self._in_flight.setdefault(flow.client_conn.id, set())
        tasks.add(task)
        try:
            await task
        except asyncio.CancelledError:
            logger.bind(event="client_gone").info("Client disconnected; upstream request cancelled")
            flow.kill()
        except Exception:  # never raise out of a hook: later addons (redaction) must still run
            logger.exception("key routing failed")
            answer_error(flow, router_failed())
        finally:
            tasks.discard(task)
            if not tasks:
                self._in_flight.pop(flow.client_conn.id, None)

    def client_disconnected(self, client: connection.Client) -> None:
        for task in self._in_flight.pop(client.id, set()):
            task.cancel()

    async def _route(self, flow: http.HTTPFlow, plan: UpstreamPlan) -> None:
        transport = self.transports.get(plan.provider)
        if self.config is None or self.state.pool is None or transport is None:
            answer_error(flow, RouterError("The router has no valid configuration; see its log."))
            return
        if plan.batches:
            await route_batches(flow, plan, transport, self._attempt, self._deliver)
            return
        if plan.parts:
            await route_parts(flow, plan.parts, self.transports, self._attempt, self._deliver, self.admit_client)
            return
        request = upstream_request(plan, flow.request.raw_content or b"")
        if plan.fallbacks:
            outcome = await self._attempt_with_fallbacks(flow, request, plan.fallbacks)
        else:
            outcome = await self._attempt(flow, request, transport)
        if outcome.error is not None:
            answer_error(flow, outcome.error)
        elif outcome.result is not None:
            self._deliver(flow, outcome.result, outcome.key_name or "")

    async def _attempt_with_fallbacks(self, flow: http.HTTPFlow, first: UpstreamRequest, plans: tuple[FallbackPlan, ...]) -> FailoverResult:
        """The first model, then its fallbacks while each provider in turn cannot answer; a
        fallback's request is planned only when reached. The flow ends up planned for the model
        whose answer (or error) the client gets."""
        assert self.config is not None
        config = self.config
        planned: dict[int, PlannedUpstream] = {}

        def fallback(index: int, plan: FallbackPlan) -> Fallback:
            def build() -> UpstreamRequest:
                planned[index] = made = plan.plan()
                return upstream_request(made.plan, made.body)

            return Fallback(plan.name, plan.provider, build)

        rid = request_id(flow)
        result = await run_with_fallbacks(
            first,
            [fallback(i, plan) for i, plan in enumerate(plans, 1)],
            attempt=lambda request, may_wait: self._attempt(flow, request, self.transports[request.provider], may_wait=may_wait),
            can_serve=lambda provider: provider in self.transports and config.has_keys_for(provider),
            on_fallback=lambda failed, to, why: log_fallback(failed, to, why, rid),
            on_skip=lambda name, why: log_skipped(name, why, rid),
        )
        ctx = context(flow)
        ctx.tried_models = [(request.provider, request.model) for request in result.tried]
        if result.served:
            ctx.fallback_from = first.model
            apply_plan(flow, planned[result.served])
        return result.outcome

    async def _attempt(
        self, flow: http.HTTPFlow, request: UpstreamRequest, transport: Transport, *, may_wait: bool = True
    ) -> FailoverResult:
        """The attempt loop for one model. `may_wait` False: a fallback follows, which serves
        sooner than a key's recovery would."""
        assert self.config is not None and self.state.pool is not None
        started = self.clock()
        outcome = await run_with_failover(
            request,
            pool=self.state.pool,
            transport=transport,
            retry_count=self.config.key_pool.retry_count,
            clock=self.clock,
            on_rotate=log_rotation,
            on_passed_over=log_passed_over,
            waits=self.waits if may_wait else dataclasses.replace(self.waits, max_wait_seconds=0.0),
            quota_gate=self.quota_gate(flow),
        )
        ctx = context(flow)
        ctx.attempts += len(outcome.attempts)
        ctx.attempt_log += outcome.attempts
        if outcome.key_name:
            ctx.key_name = outcome.key_name
        base_url = {"mistral": self.config.mistral.base_url, "anthropic": self.config.anthropic.base_url}.get(
            request.provider, self.config.gemini.base_url
        )
        record_attempts(flow, request, outcome.attempts, base_url)
        log_served(request, outcome.key_name, outcome.attempts, latency_ms=round((self.clock() - started) * 1000, 1), rid=request_id(flow))
        return outcome

    def _deliver(self, flow: http.HTTPFlow, result: AttemptResult, key_name: str) -> None:
        context(flow).key_name = key_name
        if result.stream is not None:
            self._relay(flow, result)
            return
        status = result.status or 502
        # Gemini quotes keys in some error bodies (403 `api_key:...`): no key value leaves.
        body = redact_key_values(result.body, self._pool_redactor()) if status >= 400 else result.body
        flow.response = local_response(status, body, result.headers)

    def _pool_redactor(self) -> Redactor:
        """A Redactor for the pool's keys, rebuilt when a reload brings a new pool."""
        pool = self.state.pool
        assert pool is not None
        if self._redactor is None or self._redactor[0] is not pool:
            self._redactor = (pool, Redactor({key.name: key.key for key in pool.keys}))
        return self._redactor[1]

    def _relay(self, flow: http.HTTPFlow, result: AttemptResult) -> None:
        assert result.stream is not None
        token = self.relay.park(result.stream)  # type: ignore[arg-type]  # the transport's stream is the relay's
        result.stream = None
        # mitmproxy keeps the Gemini path in the flow (shown in mitmweb) but dials the relay.
        flow.request.scheme = "http"
        flow.request.host = "127.0.0.1"
        flow.request.port = self.relay.port
        flow.request.headers[TOKEN_HEADER] = token
        # The relay discards a request's body: send none (the client's own request is what the
        # flow shows, ClientView puts it back; the upstream request is its attempt flow's).
        flow.request.content = b""
        context(flow).relayed = True
