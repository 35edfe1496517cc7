"""compare() orders vectors by the sum of their entries (like a Lamport time), so it never answers "concurrent" unless the sums tie, although unrelated events must compare "concurrent"."""
# expect-fail: vector_clock_detects_concurrency
# %% cell: vector_clock
class VectorClock:
    """One counter per node; this node's own counter counts its events."""

    def __init__(self, node: str, nodes: list[str]) -> None:
        self.node = node
        self.clock = {n: 0 for n in nodes}

    def tick(self) -> dict[str, int]:
        """A local event: count it and return a copy of the vector."""
        self.clock[self.node] += 1
        return dict(self.clock)

    def send(self) -> dict[str, int]:
        """A send event: count it and return the vector to put on the message."""
        self.clock[self.node] += 1
        return dict(self.clock)

    def receive(self, ts: dict[str, int]) -> dict[str, int]:
        """A message stamped `ts` arrives: merge (element-wise max), count the receive, return."""
        for n, t in ts.items():
            self.clock[n] = max(self.clock.get(n, 0), t)
        self.clock[self.node] += 1
        return dict(self.clock)


def compare(a: dict[str, int], b: dict[str, int]) -> str:
    """"before", "after", "equal" or "concurrent": how the event stamped a relates to b."""
    if a == b:
        return "equal"
    sa, sb = sum(a.values()), sum(b.values())
    if sa < sb:
        return "before"
    if sa > sb:
        return "after"
    return "concurrent"
