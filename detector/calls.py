"""``LlmCall``: the one typed record the detector reasons about.

Every attribute dialect (OTel GenAI semconv old and new, OpenLLMetry, OpenInference, OpenLIT)
is read into this record by :mod:`swapwatch.detector.extract`. A field that the span did not
carry is ``None``: never guessed, never defaulted.

>>> call = LlmCall(start_ns=1_000_000_000, end_ns=3_500_000_000, request_model="gpt-4o",
...                response_model="gpt-4o-2024-08-06", output_tokens=100,
...                time_to_first_chunk_s=0.5)
>>> call.duration_s
2.5
>>> round(call.decode_rate or 0, 1)  # output tokens per second after the first chunk
50.0
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(slots=True)
class LlmCall:
    """One LLM request as seen in a span. Times are event time (unix nanoseconds)."""

    start_ns: int
    end_ns: int
    trace_id: str | None = None
    span_id: str | None = None
    # who called
    service: str | None = None
    environment: str | None = None
    surface: str | None = None
    tenant: str | None = None
    # whom they called
    provider: str | None = None
    server_address: str | None = None
    operation: str | None = None
    request_model: str | None = None
    response_model: str | None = None
    response_id: str | None = None
    # what came back
    input_tokens: int | None = None
    output_tokens: int | None = None
    cached_input_tokens: int | None = None
    reasoning_tokens: int | None = None
    finish_reasons: tuple[str, ...] | None = None
    system_fingerprint: str | None = None
    service_tier: str | None = None
    time_to_first_chunk_s: float | None = None
    streaming: bool | None = None
    prompt_chars: int | None = None
    cost_usd: float | None = None
    error_type: str | None = None
    is_error: bool = False
    # evaluation name -> score, from gen_ai.evaluation.result events/attributes
    evaluations: dict[str, float] = field(default_factory=dict)
    # which attribute dialect the span was written in ("otel", "otel-legacy", "openllmetry",
    # "openinference", "openlit")
    dialect: str | None = None

    @property
    def duration_s(self) -> float:
        return (self.end_ns - self.start_ns) / 1e9

    @property
    def decode_rate(self) -> float | None:
        """Output tokens per second after the first chunk; ``None`` when not measurable."""
        if not self.output_tokens or self.output_tokens < 2:
            return None
        ttft = self.time_to_first_chunk_s
        decode_s = self.duration_s - (ttft if ttft is not None else 0.0)
        if decode_s <= 0:
            return None
        return self.output_tokens / decode_s

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict, field names as in the record (``swapwatch calls`` prints this)."""
        out = asdict(self)
        if self.finish_reasons is not None:
            out["finish_reasons"] = list(self.finish_reasons)
        return out
