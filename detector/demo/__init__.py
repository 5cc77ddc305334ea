"""``swapwatch demo``: the whole chain on one machine, a scripted swap and a benign incident.

:mod:`.scenario` (the story as data) → :mod:`.traffic` (each service's seeded plan) →
:mod:`.service` (a service process: real SDKs, swapwatch instrumentation) → the simulated
provider with :mod:`.behaviour` (compressed clock, swap, incident) → ``swapwatch collect`` →
:mod:`.transport` (in-process queue) or :mod:`.kafka_mode` → detection, watched by :mod:`.tap`
→ :mod:`.live` (terminal view), :mod:`.verdict` (what was caught, how late, false alarms) →
the HTML report. :mod:`.runner` wires it; :mod:`.config` holds the settings.
"""
