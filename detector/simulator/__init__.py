"""A provider simulator driven by real measurements, and the swap benchmark's scenarios.

Profiles (built from ``../shared/data`` by :mod:`.build_profiles`, shipped as
``profiles.json``) → :mod:`.profiles` (quantile tables, traits) → :mod:`.serving` (one answer
to one request) and :mod:`.traffic` (Azure-trace arrivals and lengths) → :mod:`.scenario`
(keys, arms, changes as data) and :mod:`.suite` (the benchmark's scenarios) →
:mod:`.generate` (calls in end order) → :mod:`.spans` (OTLP JSON lines per dialect) and
:mod:`.truth` (``truth.json``) → :mod:`.scoring` (``docs/benchmark.md``'s rules).
:mod:`.profile_behaviour` serves the same profiles over HTTP (:mod:`.provider`).
"""
