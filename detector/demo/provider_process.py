"""The simulated provider in its own process (``-m swapwatch.detector.demo.provider_process``).

Its own process, because the durations the services' spans measure must be the provider's:
sharing an interpreter with the collector and detection would add their pauses to every reply.
It prints ``ready <port>``, then waits for ``go <scenario> <seed> <speed> <start unix s>
<duration s>`` on standard input and from then on answers as the scenario says (before that,
with the default behaviour: the services' warm-up). It exits when standard input closes.
"""

from __future__ import annotations

import sys

from swapwatch.detector.demo.behaviour import CompressedClock, Timeline, scenario_behaviour
from swapwatch.detector.demo.scenario import SCENARIOS
from swapwatch.detector.simulator.provider import ProviderServer


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    speed = float(args[0]) if args else 1.0
    server = ProviderServer(speed=speed).start()
    try:
        print(f"ready {server.bound_port}", flush=True)
        go = sys.stdin.readline().split()
        if len(go) != 6 or go[0] != "go":
            return 3
        scenario, seed, speed_s, start_s, duration_s = (
            SCENARIOS[go[1]], int(go[2]), float(go[3]), float(go[4]), float(go[5]))
        # behaviour first: a request in between sees the new behaviour on the old clock
        server.behaviour = scenario_behaviour(
            scenario, Timeline(start_s, duration_s * speed_s), seed)
        server.clock = CompressedClock(start_s, start_s, speed_s)
        print("going", flush=True)
        sys.stdin.read()  # until the demo closes our standard input
    finally:
        print(f"served {server.requests_received}", flush=True)
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
