"""Where each entity joins a propagation pass, for the memory-based engines (``sam2``, ``transformers``).

An entity joins a pass at its first keyframe in the direction of travel (at the start if one lies
behind it): masks are carried from keyframes forward in time, or backward. Before that it is
left out, rather than guessed from keyframes that lie ahead (which SAM2 on the CPU cannot even
compute: its memory would hold only bfloat16 features). The pass is cut at each join into runs
with a fixed set of entities.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Generator, Mapping

from .records import Pass, Result

Run = Callable[[int, int, bool, list[str], int], Generator[tuple[int, dict[str, Result]]]]


def entry(keys: Collection[int], leg: Pass) -> int | None:
    """The frame where an entity with keyframes ``keys`` joins ``leg``, or None if it does not."""
    if leg.reverse:
        if max(keys) >= leg.start:
            return leg.start
        before = [k for k in keys if leg.last <= k < leg.start]
        return max(before) if before else None
    if min(keys) <= leg.start:
        return leg.start
    after = [k for k in keys if leg.start < k <= leg.last]
    return min(after) if after else None


def run_pass(
    leg: Pass, entities: list[str], keyframes: Mapping[str, Collection[int]], run: Run
) -> Generator[tuple[int, dict[str, Result]]]:
    """Every frame of ``leg``: empty before anyone joins, then ``run(first, last, reverse, active,
    start)`` for each stretch between joins, with the entities that have joined by then."""
    step = -1 if leg.reverse else 1
    joined = {e: entry(keyframes[e], leg) for e in entities}
    joins = sorted({f for f in joined.values() if f is not None}, key=lambda f: (f - leg.start) * step)
    cursor = leg.start
    for i, first in enumerate(joins):
        for f in range(cursor, first, step):
            yield f, {}
        last = joins[i + 1] - step if i + 1 < len(joins) else leg.last
        active = [e for e in entities if (j := joined[e]) is not None and (j - first) * step <= 0]
        yield from run(first, last, leg.reverse, active, leg.start)
        cursor = last + step
    if not joins:
        for f in leg.frames:
            yield f, {}
