"""Ingest: OTLP bytes or JSON → spans → :class:`~swapwatch.detector.calls.LlmCall`."""
