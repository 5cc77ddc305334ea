"""Where the replay's time goes: one replay pass under pyinstrument (a sampling profiler).

pyinstrument comes with the ``test`` extra; without it the profile is skipped with a note.
The flat view lists functions by total (cumulative) time; the tree shows the call paths down
to ``min_share`` of the run.
"""

from __future__ import annotations

from dataclasses import dataclass

from swapwatch.detector.perf.measure import replay_pass


@dataclass(frozen=True)
class Profile:
    flat: str  # top functions by cumulative time
    tree: str  # the call tree, trimmed


def _top_lines(text: str, lines: int) -> str:
    return "\n".join(text.strip("\n").splitlines()[:lines])


def profile_replay(messages: list[bytes], top: int = 30, min_share: float = 0.02,
                   interval_s: float = 0.0005) -> Profile | None:
    """Profile one replay pass of ``messages``; ``None`` when pyinstrument is missing."""
    try:
        from pyinstrument import Profiler
    except ImportError:
        return None
    replay_pass(messages[:2])  # caches warm, as in the timed runs
    profiler = Profiler(interval=interval_s, async_mode="disabled")
    profiler.start()
    replay_pass(messages)
    profiler.stop()
    flat = profiler.output_text(flat=True, flat_time="total", short_mode=True)
    tree = profiler.output_text(
        short_mode=True, processor_options={"filter_threshold": min_share})
    return Profile(flat=_top_lines(flat, top + 6), tree=tree.strip("\n"))
