"""Benchmark: decode + extract cost per span against a bare decode-and-walk floor.

    python -m swapwatch.detector.ingest.bench [--messages 200] [--spans 50] [--llm-share 0.3]

Builds Kafka-sized OTLP protobuf messages (traces of an HTTP root span and four children:
LLM spans in each dialect and DB spans), then times, on the same bytes:

- ``floor``: ``TracesData.FromString`` and every attribute of every span into a dict
  (``{key: value}``): the least any consumer that looks at attributes must do;
- ``swapwatch``: :func:`~swapwatch.detector.ingest.decode.calls_from_protobuf`, which also
  builds the ``LlmCall`` records (surface/tenant precedence, cost from the catalog).

Prints microseconds per span for both and their ratio (target: ≤ 1.5). Best of ``--repeat``.
"""

from __future__ import annotations

import argparse
import json
import random
import time
from collections.abc import Callable
from typing import Any

from opentelemetry.proto.common.v1.common_pb2 import AnyValue
from opentelemetry.proto.trace.v1.trace_pb2 import TracesData
from swapwatch.detector.ingest.decode import calls_from_protobuf, traces_from_protobuf
from swapwatch.detector.ingest.errors import IngestStats

_LLM_DIALECTS: list[dict[str, Any]] = [
    {  # OTel GenAI semconv (current)
        "gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai",
        "gen_ai.request.model": "gpt-4o", "gen_ai.request.max_tokens": 512,
        "gen_ai.request.temperature": 0.2, "server.address": "api.openai.com",
        "server.port": 443, "gen_ai.response.id": "chatcmpl-x",
        "gen_ai.response.model": "gpt-4o-2024-08-06", "gen_ai.response.finish_reasons": ["stop"],
        "openai.response.system_fingerprint": "fp_07871e2ad8",
        "openai.response.service_tier": "default", "gen_ai.usage.input_tokens": 812,
        "gen_ai.usage.output_tokens": 143, "swapwatch.surface": "support",
        "swapwatch.tenant": "acme", "swapwatch.prompt.chars": 3391,
    },
    {  # OpenLLMetry
        "gen_ai.system": "Anthropic", "llm.request.type": "chat",
        "gen_ai.request.model": "claude-sonnet-4-5", "gen_ai.request.max_tokens": 1024,
        "gen_ai.response.model": "claude-sonnet-4-5-20250929", "gen_ai.response.id": "msg_1",
        "gen_ai.usage.input_tokens": 1510, "gen_ai.usage.output_tokens": 402,
        "llm.usage.total_tokens": 1912, "traceloop.workflow.name": "triage",
        "llm.is_streaming": False,
    },
    {  # OpenInference
        "openinference.span.kind": "LLM", "llm.provider": "openai", "llm.system": "openai",
        "llm.model_name": "gpt-4o-2024-08-06",
        "llm.invocation_parameters": json.dumps({"model": "gpt-4o", "temperature": 0}),
        "llm.token_count.prompt": 60, "llm.token_count.completion": 21,
        "llm.token_count.total": 81, "input.mime_type": "application/json",
    },
]
_OTHER = [
    {"http.request.method": "GET", "http.route": "/api/orders/{id}", "url.scheme": "https",
     "http.response.status_code": 200, "server.address": "shop.internal", "server.port": 8080,
     "user_agent.original": "Mozilla/5.0", "network.protocol.version": "1.1"},
    {"db.system.name": "postgresql", "db.query.text": "SELECT * FROM orders WHERE id = $1",
     "db.namespace": "shop", "server.address": "db", "server.port": 5432},
]


def _set(value: AnyValue, raw: Any) -> None:
    if isinstance(raw, bool):
        value.bool_value = raw
    elif isinstance(raw, int):
        value.int_value = raw
    elif isinstance(raw, float):
        value.double_value = raw
    elif isinstance(raw, list):
        for item in raw:
            _set(value.array_value.values.add(), item)
    else:
        value.string_value = raw


_TRACE_SPANS = 5


def build_messages(count: int, spans: int, llm_share: float, seed: int = 7) -> list[bytes]:
    """Deterministic Kafka-sized messages of ``spans`` spans: traces of one HTTP root span and
    four children, each child an LLM span with probability ``llm_share``, else a DB span."""
    rng = random.Random(seed)
    out: list[bytes] = []
    t0 = 1_763_769_600_000_000_000
    for m in range(count):
        data = TracesData()
        rs = data.resource_spans.add()
        for k, val in {"service.name": f"svc-{m % 5}", "deployment.environment.name": "prod",
                       "telemetry.sdk.language": "python", "host.name": "node-1"}.items():
            _set(rs.resource.attributes.add(key=k).value, val)
        scope = rs.scope_spans.add()
        scope.scope.name = "mixed"
        trace_id, root_id = b"", b""
        for i in range(spans):
            root = i % _TRACE_SPANS == 0
            if root:  # every trace: an HTTP server span, then its children
                trace_id, root_id = rng.randbytes(16), rng.randbytes(8)
            attrs: dict[str, Any] = (_OTHER[0] if root else rng.choice(_LLM_DIALECTS)
                     if rng.random() < llm_share else _OTHER[1])
            start = t0 + (m * spans + i) * 10_000_000
            span = scope.spans.add(
                trace_id=trace_id, span_id=root_id if root else rng.randbytes(8),
                parent_span_id=b"" if root else root_id, name="span", kind=2 if root else 3,
                start_time_unix_nano=start,
                end_time_unix_nano=start + rng.randint(10**8, 5 * 10**9),
            )
            for key, raw in attrs.items():
                _set(span.attributes.add(key=key).value, raw)
        out.append(data.SerializeToString())
    return out


def floor(message: bytes) -> int:
    """Decode and walk every attribute of every span into a dict (the baseline)."""
    walked = 0
    for rs in traces_from_protobuf(message).resource_spans:
        for ss in rs.scope_spans:
            for span in ss.spans:
                attrs = {}
                for kv in span.attributes:
                    value = kv.value
                    attrs[kv.key] = getattr(value, value.WhichOneof("value") or "string_value")
                walked += len(attrs)
    return walked


def swapwatch(message: bytes) -> int:
    return len(calls_from_protobuf(message))


def _once(fn: Callable[[bytes], int], messages: list[bytes]) -> float:
    start = time.perf_counter()
    for message in messages:
        fn(message)
    return time.perf_counter() - start


def _best_of(messages: list[bytes], repeat: int) -> tuple[float, float]:
    """Best time of each, rounds interleaved so that machine noise hits both alike."""
    base = ours = float("inf")
    for _ in range(repeat):
        base = min(base, _once(floor, messages))
        ours = min(ours, _once(swapwatch, messages))
    return base, ours


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--messages", type=int, default=200)
    parser.add_argument("--spans", type=int, default=50, help="spans per message")
    parser.add_argument("--llm-share", type=float, default=0.25, help="of non-root spans")
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args(argv)
    messages = build_messages(args.messages, args.spans, args.llm_share)
    stats = IngestStats()
    for message in messages:  # warm caches (pricing, identity) and count
        calls_from_protobuf(message, stats=stats)
    n = args.messages * args.spans
    base, ours = _best_of(messages, args.repeat)
    print(json.dumps({
        "spans": n, "llm_calls": stats.calls, "llm_share": args.llm_share,
        "floor_us_per_span": round(base / n * 1e6, 3),
        "swapwatch_us_per_span": round(ours / n * 1e6, 3),
        "ratio": round(ours / base, 3),
        "swapwatch_spans_per_s": round(n / ours),
    }))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
