"""The HTTP side of ``registry serve``: an ASGI app (Starlette) and the micro-batcher behind it. No Spark here.

Requests are parsed and checked on the event loop (a bad one is answered 4xx at once and never reaches the
model), then queued. One worker thread takes what is queued, waits up to ``max_wait`` for more (up to
``max_rows`` records), and hands the whole batch to the engine as one call: one Spark transform for many
requests, which is what makes a Spark model fast to serve. A full queue answers 503 at once.

An engine that answers in microseconds (the ONNX twin) is served *inline* (``batcher=None``): each request is
scored on the event loop once parsed; a hop to a worker thread and back (and the GIL passed between them) would
cost more than the model.

Routes::

    POST /predict, /invocations   records -> {"predictions": [...], "probabilities": [[...], ...], "model": COORDINATE}
    GET  /health, /ping           {"status": "ok", "model": COORDINATE}
    GET  /model                   the coordinate and a summary of its card

Errors are ``{"error_code": "BAD_REQUEST", "message": "..."}`` as MLflow's scoring server writes them.

A module per concern: :mod:`~registry.serving.options` (what ``registry serve`` is asked),
:mod:`~registry.serving.engine` (the engine the app serves, and the reloading one both engines share),
:mod:`~registry.serving.batcher` (the micro-batcher), :mod:`~registry.serving.app` (the Starlette app and
uvicorn). Only ``app`` imports the web framework.
"""

from registry.serving.app import batched_app, create_app, run_server
from registry.serving.batcher import Busy, MicroBatcher
from registry.serving.engine import Answer, Build, Engine, ReloadingEngine, Served
from registry.serving.options import Limits, ServeOptions

__all__ = [
    "Answer",
    "Build",
    "Busy",
    "Engine",
    "Limits",
    "MicroBatcher",
    "ReloadingEngine",
    "ServeOptions",
    "Served",
    "batched_app",
    "create_app",
    "run_server",
]
