"""KeyRouting: sends each translated request to Gemini with a pool key, failing over.

Runs after Translation in the `request` hook. The Gemini request is the flow's request
(Translation rewrote it); this addon runs the attempt loop (`failover.py`) and then either
sets `flow.response` to Gemini's answer, or, for a stream that Gemini accepted, points the
flow at the in-process relay so mitmproxy streams it to the client as it arrives.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable
from decimal import Decimal, InvalidOperation

from loguru import logger
from mitmproxy import connection, http

from hpn_router.addons.answers import answer_error, is_client_flow
from hpn_router.addons.attempt_flows import record_attempts
from hpn_router.addons.flowcontext import UpstreamPlan, context
from hpn_router.config import RouterConfig
from hpn_router.core.errors import RouterError, router_failed
from hpn_router.core.keypool import KeyPool
from hpn_router.core.poolsnapshot import SnapshotError
from hpn_router.core.quota import Limits
from hpn_router.core.state import RouterState
from hpn_router.edge.failover import Attempt, FailoverResult, WaitPolicy, run_with_failover
from hpn_router.edge.relay import TOKEN_HEADER, StreamRelay
from hpn_router.edge.statefile import StateFileInUse, StateLock, load_state, save_state
from hpn_router.edge.upstream import AttemptResult, GeminiTransport, UpstreamRequest


class KeyRouting:
    def __init__(self, state: RouterState, *, relay: StreamRelay | None = None, clock: Callable[[], float] = time.time) -> None:
        self.state = state
        self.clock = clock
        self.config: RouterConfig | None = None
        self.transport: GeminiTransport | None = None
        self.waits = WaitPolicy()
        self.relay = relay or StreamRelay()
        self._saved_at = 0.0
        self._state_lock: StateLock | None = None  # held while this process owns the state file
        self._in_flight: dict[str, set[asyncio.Future[None]]] = {}

    def apply(self, config: RouterConfig) -> None:
        """A new config (start-up or reload): keys whose value stays keep their state, under
        whatever name or position they have now; a changed value starts fresh."""
        settings = config.key_pool
        limits = {(q.project, q.model): Limits(q.rpm, q.rpd, q.tpm) for q in settings.limits}
        pool = KeyPool(settings.keys, cooldown_seconds=settings.cooldown_seconds, limits=limits)
        if self.state.pool is not None:
            pool.restore(self.state.pool.snapshot(self.clock()), self.clock())
            self._move_state_file(settings.state_file)
        elif self._own_state_file(settings.state_file):
            self._restore_saved(pool, settings.state_file)
        else:
            return  # refused at start-up (logged as an error, so mitmdump exits)
        self.state.pool = pool
        self.waits = WaitPolicy(max_wait_seconds=settings.max_wait_seconds, backoff_seconds=settings.retry_backoff_ms / 1000)
        if self.transport is None or self.config is None or self.config.gemini.base_url != config.gemini.base_url:
            self.transport = GeminiTransport(config.gemini.base_url, timeout_seconds=config.server.read_timeout_seconds)
        self.transport.timeout_seconds = config.server.read_timeout_seconds
        # The relay reads and discards the body mitmproxy forwards with a stream's request; a
        # translated body can outgrow the client's a little.
        self.relay.max_body_bytes = 2 * config.server.max_body_bytes
        self.config = config

    def _own_state_file(self, path: str) -> bool:
        """Lock the state file for this process; False when another router holds it."""
        if not path:
            return True
        try:
            self._state_lock = StateLock.acquire(path)
        except StateFileInUse as e:
            # Through stdlib logging, which mitmproxy's ErrorCheck watches: at start-up an
            # error makes mitmdump exit non-zero instead of sharing another router's state.
            logging.getLogger("hpn.state").error("%s", e)
            return False
        except OSError as e:
            logger.warning("Cannot lock the state file; pool state is not kept", path=path, error=type(e).__name__)
            return True
        return True

    def _move_state_file(self, path: str) -> None:
        """A reload naming another state file: take it if it is free, else keep the old one."""
        held = self._state_lock.path if self._state_lock else ""
        if path == held:
            return
        previous = self._state_lock
        try:
            self._state_lock = StateLock.acquire(path) if path else None
        except (StateFileInUse, OSError) as e:
            logger.error("Keeping the previous state file: {}", e if isinstance(e, StateFileInUse) else type(e).__name__)
            return
        if previous:
            previous.release()

    def _restore_saved(self, pool: KeyPool, path: str) -> None:
        """The state file's pool state and savings total, all or nothing: a file of any
        unexpected shape starts the router fresh, with a warning, rather than failing."""
        saved = load_state(path) if self._state_lock else {}
        if not saved:
            return
        try:
            total = _saved_total(saved)
            pool.restore(saved, self.clock())
        except SnapshotError as e:
            logger.warning("State file has an unexpected shape; starting fresh", path=path, problem=str(e))
            return
        self.state.total_saved = total

    def save_state(self) -> None:
        if self.config and self.state.pool and self._state_lock:
            snapshot = self.state.pool.snapshot(self.clock())
            save_state(self._state_lock.path, {**snapshot, "total_saved": str(self.state.total_saved)})
            self._saved_at = self.clock()

    def response(self, flow: http.HTTPFlow) -> None:
        # Persist at most once a second, after requests that went upstream.
        if context(flow).attempts and self.clock() - self._saved_at >= 1.0:
            self.save_state()

    async def running(self) -> None:
        await self.relay.start()

    async def done(self) -> None:
        for tasks in self._in_flight.values():
            for task in tasks:
                task.cancel()
        self.save_state()
        if self._state_lock:
            self._state_lock.release()
            self._state_lock = None
        await self.relay.stop()
        if self.transport:
            await self.transport.close()

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
        if self.config is None or self.transport is None or self.state.pool is None:
            answer_error(flow, RouterError("The router has no valid configuration; see its log."))
            return
        body = flow.request.raw_content or b""
        if plan.batched:
            await self._route_batches(flow, plan, json.loads(body))
            return
        request = _upstream_request(plan, body)
        outcome = await self._attempt(flow, request)
        if outcome.error is not None:
            answer_error(flow, outcome.error)
        elif outcome.result is not None:
            self._deliver(flow, outcome.result, outcome.key_name or "")

    async def _route_batches(self, flow: http.HTTPFlow, plan: UpstreamPlan, bodies: list[object]) -> None:
        """Several upstream requests for one client request (embeddings beyond 100 inputs):
        each with its own failover, in order; the first failure answers the client."""
        answers: list[object] = []
        for body in bodies:
            outcome = await self._attempt(flow, _upstream_request(plan, json.dumps(body).encode()))
            if outcome.error is not None:
                answer_error(flow, outcome.error)
                return
            assert outcome.result is not None
            if outcome.result.status != 200:
                self._deliver(flow, outcome.result, outcome.key_name or "")
                return
            answers.append(json.loads(outcome.result.body))
        combined = AttemptResult(status=200, headers={"content-type": "application/json"}, body=json.dumps(answers).encode())
        self._deliver(flow, combined, context(flow).key_name or "")

    async def _attempt(self, flow: http.HTTPFlow, request: UpstreamRequest) -> FailoverResult:
        assert self.config is not None and self.transport is not None and self.state.pool is not None
        started = self.clock()
        outcome = await run_with_failover(
            request,
            pool=self.state.pool,
            transport=self.transport,
            retry_count=self.config.key_pool.retry_count,
            clock=self.clock,
            on_rotate=_log_rotation,
            waits=self.waits,
        )
        ctx = context(flow)
        ctx.attempts += len(outcome.attempts)
        if outcome.key_name:
            ctx.key_name = outcome.key_name
        record_attempts(flow, request, outcome.attempts, self.config.gemini.base_url)
        self._log_served(request, outcome.key_name, outcome.attempts, started)
        return outcome

    def _deliver(self, flow: http.HTTPFlow, result: AttemptResult, key_name: str) -> None:
        context(flow).key_name = key_name
        if result.stream is not None:
            self._relay(flow, result)
            return
        status = result.status or 502
        body = _scrub(result.body, self.state.pool) if status >= 400 else result.body
        flow.response = http.Response.make(status, body, result.headers)

    def _relay(self, flow: http.HTTPFlow, result: AttemptResult) -> None:
        assert result.stream is not None
        token = self.relay.park(result.stream)
        result.stream = None
        # mitmproxy keeps the Gemini path in the flow (shown in mitmweb) but dials the relay.
        flow.request.scheme = "http"
        flow.request.host = "127.0.0.1"
        flow.request.port = self.relay.port
        flow.request.headers[TOKEN_HEADER] = token
        context(flow).relayed = True

    def _log_served(self, request: UpstreamRequest, key_name: str | None, attempts: list[Attempt], started: float) -> None:
        logger.bind(
            event="request",
            model=request.model,
            stream=request.stream,
            key=key_name,
            attempts=len(attempts),
            status=attempts[-1].status if attempts else None,
            latency_ms=round((self.clock() - started) * 1000, 1),
        ).info("Gemini answered" if key_name else "No key could answer")


def _saved_total(saved: dict[str, object]) -> Decimal:
    """The savings total of a state file: a decimal string, finite and not negative."""
    text = saved.get("total_saved")
    try:
        total = Decimal(text) if isinstance(text, str) else None
    except InvalidOperation:
        total = None
    if total is None or not total.is_finite() or total < 0:
        raise SnapshotError('total_saved: expected a decimal string such as "0.0123"')
    return total


def _upstream_request(plan: UpstreamPlan, body: bytes) -> UpstreamRequest:
    return UpstreamRequest(method=plan.method, path=plan.path, query=plan.query, body=body, stream=plan.stream, model=plan.model)


def _log_rotation(failed: Attempt, next_key: str) -> None:
    logger.bind(
        event="key_rotation",
        reason=failed.outcome.reason,
        old_key=failed.key_name,
        new_key=next_key,
        retry_attempt=failed.number,
    ).warning("Key rotation triggered")


def _scrub(body: bytes, pool: KeyPool | None) -> bytes:
    """Gemini quotes keys in some error bodies (403 `api_key:...`): no key value leaves."""
    if pool is None:
        return body
    for key in pool.keys:
        if key.key.encode() in body:
            body = body.replace(key.key.encode(), f"<key:{key.name}>".encode())
    return body
