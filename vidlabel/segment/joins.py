"""Where each entity joins a propagation pass, for the memory-based engines (``sam2``, ``transformers``).

An entity joins a pass at its first keyframe in the direction of travel (at the start if one lies
behind it): masks are carried from keyframes forward in time, or backward. Before that it is
left out, rather than guessed from keyframes that lie ahead (which SAM2 on the CPU cannot even
compute: its memory would hold only bfloat16 features). The pass is cut at each join into runs
with a fixed set of entities.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Generator, Iterator, Mapping

from .records import Pass, Result

Run = Callable[[int, int, bool, list[str], int], Generator[tuple[int, dict[str, Result]]]]
Found = Callable[[int, dict[str, Result]], list[str]]


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
    leg: Pass,
    entities: list[str],
    keyframes: Mapping[str, Collection[int]],
    run: Run,
    found: Found | None = None,
) -> Generator[tuple[int, dict[str, Result]]]:
    """Every frame of ``leg``: empty before anyone joins, then ``run(first, last, reverse, active,
    start)`` for each stretch between joins, with the entities that have joined by then.

    ``found(frame, results)``, if given, is called on each tracked frame before it is yielded and
    returns entities that appeared there (already prompted on that frame): the stretch is cut after
    that frame and they are tracked from the next one on. They are added to ``entities``."""
    step = -1 if leg.reverse else 1
    joined = {e: entry(keyframes[e], leg) for e in entities}
    end = leg.last + step
    cursor = leg.start

    def frames(
        first: int, stretch: Iterator[tuple[int, dict[str, Result]]]
    ) -> Generator[tuple[int, dict[str, Result]]]:
        """The stretch's frames; sets ``cursor`` past the last one, or past one where entities appeared."""
        nonlocal cursor
        for frame, results in stretch:
            new = found(frame, results) if found is not None else []
            yield frame, results
            cursor = frame + step
            if new:
                for e in new:
                    joined[e] = frame
                    if e not in entities:
                        entities.append(e)
                return

    while cursor != end:
        first = cursor
        ahead = sorted(
            {f for f in joined.values() if f is not None and (f - first) * step > 0},
            key=lambda f: (f - first) * step,
        )
        active = [e for e in entities if (j := joined.get(e)) is not None and (j - first) * step <= 0]
        if not active:  # nobody tracked yet: empty frames up to the next join
            stop = ahead[0] if ahead else end
            yield from frames(first, ((f, {}) for f in range(first, stop, step)))
            continue
        last = ahead[0] - step if ahead else leg.last
        stretch = run(first, last, leg.reverse, active, leg.start)
        try:
            yield from frames(first, stretch)
        finally:
            stretch.close()
