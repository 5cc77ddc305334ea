"""``TracesData`` as ingest decodes it: span attributes parsed into a map, not a list.

On the wire, a span's ``repeated KeyValue attributes`` and a ``map<string, AnyValue>`` are the
same bytes (a map entry *is* a message with ``key = 1`` and ``value = 2``). Parsed as a map,
iterating a span's attributes yields each key without building a ``KeyValue`` object per
attribute, and a value is built only for the keys ingest reads: the attribute walk costs
about a third less (decoding a little more).

The schema is derived at import from the installed ``opentelemetry-proto`` descriptors
(renamed into a private package, ``Span.attributes`` retyped), so it follows that package.
A map keeps one value per key (the last) and no order; where that could change a result
(a duplicated key, a value to sanitise) ingest decodes the message again the standard way,
see :func:`~swapwatch.detector.ingest.decode.calls_from_protobuf`.

>>> from opentelemetry.proto.trace.v1.trace_pb2 import TracesData
>>> data = TracesData()
>>> span = data.resource_spans.add().scope_spans.add().spans.add(name="x")
>>> span.attributes.add(key="gen_ai.request.model").value.string_value = "gpt-4o"
>>> mapped = MapTracesData.FromString(data.SerializeToString())
>>> attributes = mapped.resource_spans[0].scope_spans[0].spans[0].attributes
>>> list(attributes), attributes["gen_ai.request.model"].string_value
(['gen_ai.request.model'], 'gpt-4o')
"""

from __future__ import annotations

from typing import Any

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from opentelemetry.proto.trace.v1 import trace_pb2

__all__ = ["MapTracesData", "is_map_traces"]

_PACKAGE = "swapwatch.ingest.maptrace"
_ANY_VALUE = ".opentelemetry.proto.common.v1.AnyValue"
_Field = descriptor_pb2.FieldDescriptorProto


def _build() -> Any:
    proto = descriptor_pb2.FileDescriptorProto()
    trace_pb2.DESCRIPTOR.CopyToProto(proto)
    own = f".{trace_pb2.DESCRIPTOR.package}."
    proto.name, proto.package = f"{_PACKAGE.replace('.', '/')}.proto", _PACKAGE

    def retarget(message: Any) -> None:
        for field in message.field:
            if field.type_name.startswith(own):
                field.type_name = f".{_PACKAGE}.{field.type_name[len(own):]}"
        for nested in message.nested_type:
            retarget(nested)

    for message in proto.message_type:
        retarget(message)
    [span] = [m for m in proto.message_type if m.name == "Span"]
    entry = span.nested_type.add(name="AttributesEntry")
    entry.options.map_entry = True
    entry.field.add(name="key", number=1, label=_Field.LABEL_OPTIONAL, type=_Field.TYPE_STRING)
    entry.field.add(name="value", number=2, label=_Field.LABEL_OPTIONAL,
                    type=_Field.TYPE_MESSAGE, type_name=_ANY_VALUE)
    [attributes] = [f for f in span.field if f.name == "attributes"]
    assert attributes.type_name == ".opentelemetry.proto.common.v1.KeyValue"  # same wire
    attributes.type_name = f".{_PACKAGE}.Span.AttributesEntry"
    pool = descriptor_pool.Default()
    try:
        pool.FindFileByName(proto.name)
    except KeyError:
        pool.Add(proto)
    return message_factory.GetMessageClass(pool.FindMessageTypeByName(f"{_PACKAGE}.TracesData"))


#: ``TracesData`` with ``Span.attributes`` as ``map<string, AnyValue>`` (same wire format).
MapTracesData: Any = _build()


def is_map_traces(traces: Any) -> bool:
    return type(traces) is MapTracesData
