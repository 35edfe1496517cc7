"""compare() orders vectors by the sum of their counters: it never says "concurrent" for events
with different sums, so it calls unrelated events ordered (causal pairs still come out right)."""
# expect-fail: vector_clock_detects_concurrency
# %% cell: vector_clock
class VectorClock:
    def __init__(self, node: str, nodes: list[str]) -> None:
        self.node = node
        self.counts = {n: 0 for n in nodes}

    def tick(self) -> dict[str, int]:
        self.counts[self.node] += 1
        return dict(self.counts)

    def send(self) -> dict[str, int]:
        return self.tick()

    def receive(self, ts: dict[str, int]) -> dict[str, int]:
        for n, c in ts.items():
            self.counts[n] = max(self.counts[n], c)
        return self.tick()


def compare(a: dict[str, int], b: dict[str, int]) -> str:
    if a == b:
        return "equal"
    sa, sb = sum(a.values()), sum(b.values())  # BUG: a total order cannot express concurrency
    if sa < sb:
        return "before"
    if sa > sb:
        return "after"
    return "concurrent"
