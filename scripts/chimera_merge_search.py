#!/usr/bin/env python3
"""Exhaustive search behind the chimera schedule's merge rule (workloads/pipeline_schedule.cpp).

Chimera runs two copies of a model in pipelines of opposite directions on the same p stages,
each copy's half of the micro-batches in 1F1B. Whenever a free stage could run the ready head
of either copy's order, something must choose. This script tries every sequence of choices
(forwards take 1 time unit, backwards `--backward` units, transfers are free) and prints the
shortest makespan, beside what foresight's rule (the task further along its micro-batch's way
through the model first) reaches. tests/pipeline_schedule_test.cpp checks the rule's results.

    python3 scripts/chimera_merge_search.py            # p = 4, 6, 8 at m = p, B = F and B = 2F
    python3 scripts/chimera_merge_search.py 4 8 2      # p, m, backward
"""
import sys


def one_f_one_b(stages, micro_batches):
    """Each stage's 1F1B order: p-1-s warm-up forwards, then one forward and one backward."""
    orders = []
    for s in range(stages):
        warm = min(stages - 1 - s, micro_batches)
        order = [("F", i) for i in range(warm)]
        for j in range(micro_batches - warm):
            order += [("F", warm + j), ("B", j)]
        order += [("B", i) for i in range(micro_batches - warm, micro_batches)]
        orders.append(order)
    return orders


def run(stages, half, backward, choose):
    """Runs both copies; choose(stage, candidates) picks one of two ready heads. Returns the makespan."""
    pipeline = one_f_one_b(stages, half)
    nxt = [[0, 0] for _ in range(stages)]
    ends = {}  # (pass, copy, own stage, micro-batch) -> end
    free = [0] * stages
    left = 4 * stages * half
    now = 0
    while left:
        for s in range(stages):
            if free[s] > now:
                continue
            ready = []
            for copy in (0, 1):
                j = s if copy == 0 else stages - 1 - s
                if nxt[s][copy] >= len(pipeline[j]):
                    continue
                kind, mb = pipeline[j][nxt[s][copy]]
                if kind == "F":
                    at = 0 if j == 0 else ends.get(("F", copy, j - 1, mb))
                else:
                    own = ends.get(("F", copy, j, mb))
                    later = 0 if j == stages - 1 else ends.get(("B", copy, j + 1, mb))
                    at = None if own is None or later is None else max(own, later)
                if at is not None and at <= now:
                    progress = j if kind == "F" else 2 * stages - 1 - j
                    ready.append((copy, j, kind, mb, progress))
            if not ready:
                continue
            copy, j, kind, mb, _ = ready[0] if len(ready) == 1 else choose(ready)
            nxt[s][copy] += 1
            free[s] = now + (1 if kind == "F" else backward)
            ends[(kind, copy, j, mb)] = free[s]
            left -= 1
        now += 1
    return max(free)


def shortest(stages, half, backward):
    """Depth-first over every choice at every conflict."""
    best = [None]

    def explore(prefix):
        taken = []

        def choose(ready):
            k = len(taken)
            if k >= len(prefix):
                raise LookupError
            taken.append(prefix[k])
            return ready[prefix[k]]

        try:
            span = run(stages, half, backward, choose)
        except LookupError:
            explore(prefix + [0])
            explore(prefix + [1])
            return
        if best[0] is None or span < best[0]:
            best[0] = span

    explore([])
    return best[0]


def further_along(ready):
    return max(ready, key=lambda r: (r[4], -r[0]))


def report(stages, micro_batches, backward):
    half = micro_batches // 2
    work = micro_batches * (1 + backward)
    rule = run(stages, half, backward, further_along)
    best = shortest(stages, half, backward)
    print(f"p {stages}, m {micro_batches}, B = {backward}F: shortest {best}, the rule {rule}, "
          f"idle {best - work} (paper's (p/2-1)(F+B) = {(stages // 2 - 1) * (1 + backward)})")


if __name__ == "__main__":
    if len(sys.argv) == 4:
        report(*(int(a) for a in sys.argv[1:]))
    else:
        for p in (4, 6, 8):
            for b in (1, 2):
                report(p, p, b)
