"""swapwatch detector: from OTLP spans to swap alerts.

Stages (see the architecture document): source → decode → extract → route → signals →
correlate → ledger → alert → checkpoint. Importing this package is cheap; the heavy
dependencies (river, kafka-python) load only in the modules that need them.
"""
