"""Speed of the detector against the decode floor (``swapwatch bench``).

- :mod:`~swapwatch.detector.perf.traffic`: simulated fleet calls as Kafka-sized OTLP protobuf
  messages (the bytes the Collector's kafka exporter writes), and warm-up streams of N keys;
- :mod:`~swapwatch.detector.perf.measure`: the floor, the in-process replay and its breakdown,
  timed in alternating rounds on the same bytes;
- :mod:`~swapwatch.detector.perf.keys`: memory per key and replay throughput as keys grow;
- :mod:`~swapwatch.detector.perf.kafka`: a backlog through a real broker and the
  ``swapwatch detect --kafka`` runtime;
- :mod:`~swapwatch.detector.perf.profile`: where the replay's time goes (pyinstrument).

Figures are wall-clock and CPU rates of one process; ratios to the floor measured in the same
run are what compare across (noisy, shared) machines.
"""
