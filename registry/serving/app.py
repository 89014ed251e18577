"""The ASGI app (Starlette) over an engine, fed by a micro-batcher or inline, and :func:`run_server`, which serves
it under uvicorn."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from registry.payload import BadRequest, parse_records
from registry.serving.batcher import Busy, MicroBatcher
from registry.serving.engine import Answer, Engine
from registry.serving.options import Limits, ServeOptions

__all__ = ["batched_app", "create_app", "run_server"]

log = logging.getLogger("registry.serve")

_ERROR_CODES = {400: "BAD_REQUEST", 413: "PAYLOAD_TOO_LARGE", 415: "UNSUPPORTED_MEDIA_TYPE", 422: "BAD_REQUEST"}


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error_code": _ERROR_CODES.get(status, "ERROR"), "message": message}, status_code=status)


async def _body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise BadRequest(f"The body is {declared} bytes; at most {limit} are accepted.", status=413)
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise BadRequest(f"The body is over {limit} bytes, the most accepted.", status=413)
    return bytes(body)


def create_app(
    engine: Engine, batcher: MicroBatcher[Mapping[str, Any], Answer] | None, limits: Limits | None = None
) -> Starlette:
    """The ASGI app serving ``engine`` through ``batcher``, or inline on the event loop (``batcher=None``)."""
    limits = limits or Limits()

    async def answer_of(records: Sequence[Mapping[str, Any]]) -> Answer:
        if batcher is None:
            (answer,) = engine.score([records])
            if isinstance(answer, BaseException):
                raise answer
            return answer
        return await asyncio.wait_for(asyncio.wrap_future(batcher.submit(records)), limits.timeout)

    async def predict(request: Request) -> Response:
        content_type = request.headers.get("content-type", "")
        if content_type and "json" not in content_type.lower():
            return _error(415, f"Content-Type {content_type!r} is not JSON; send application/json.")
        try:
            body = await _body(request, limits.max_body)
            records = parse_records(body, engine.current.signature, max_records=limits.max_records)
            answer = await answer_of(records)
        except BadRequest as exc:
            return _error(exc.status, str(exc))
        except Busy as exc:
            return JSONResponse(
                {"error_code": "TEMPORARILY_UNAVAILABLE", "message": str(exc)},
                status_code=503,
                headers={"Retry-After": "1"},
            )
        except asyncio.TimeoutError:
            return _error(504, f"No answer from the model within {limits.timeout:g} s.")
        except Exception:
            log.exception("A request failed")
            return _error(500, "The model failed to score these records; the server log has the details.")
        return JSONResponse(answer.to_json())

    async def health(request: Request) -> Response:
        served = engine.current
        if batcher is not None and not batcher.alive:
            return JSONResponse({"status": "down", "model": served.coordinate}, status_code=503)
        return JSONResponse({"status": "ok", "model": served.coordinate})

    async def model(request: Request) -> Response:
        served = engine.current
        return JSONResponse({"coordinate": served.coordinate, **served.summary})

    return Starlette(
        routes=[
            Route("/predict", predict, methods=["POST"]),
            Route("/invocations", predict, methods=["POST"]),
            Route("/health", health, methods=["GET"]),
            Route("/ping", health, methods=["GET"]),
            Route("/model", model, methods=["GET"]),
        ]
    )


def batched_app(
    engine: Engine, limits: Limits, *, inline: bool = False
) -> tuple[Starlette, MicroBatcher[Mapping[str, Any], Answer] | None]:
    """The ASGI app over ``engine``, and the micro-batcher (its worker thread started) that feeds it, or none
    (``inline``: each request scored on the event loop)."""
    if inline:
        return create_app(engine, None, limits), None
    batcher: MicroBatcher[Mapping[str, Any], Answer] = MicroBatcher(
        engine.score, max_rows=limits.max_rows, max_wait=limits.max_wait, max_queue=limits.max_queue
    )
    return create_app(engine, batcher, limits), batcher


def run_server(engine: Engine, options: ServeOptions, *, on: str = "", inline: bool = False) -> None:
    """Serve ``engine`` as ``options`` say under uvicorn until interrupted, then finish the batches queued.

    :param on: what the log line says it is served on, after the coordinate (``" on its ONNX twin"``).
    :param inline: score each request on the event loop, no batcher (:func:`batched_app`).
    """
    import uvicorn

    app, batcher = batched_app(engine, options.limits, inline=inline)
    log.info("Serving %s%s on http://%s:%d", engine.current.coordinate, on, options.host, options.port)
    config = uvicorn.Config(
        app,
        host=options.host,
        port=options.port,
        access_log=options.access_log,
        log_level="info",
        timeout_graceful_shutdown=10,
    )
    try:
        uvicorn.Server(config).run()
    finally:
        if batcher is not None:
            batcher.close()
