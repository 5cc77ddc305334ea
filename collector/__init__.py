"""swapwatch collector: a small OTLP receiver that forwards LLM spans to Kafka."""
