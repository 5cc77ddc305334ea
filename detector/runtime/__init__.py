"""Streaming runtime: sources (file, Kafka, in-process), checkpoints, dead letters, metrics."""
