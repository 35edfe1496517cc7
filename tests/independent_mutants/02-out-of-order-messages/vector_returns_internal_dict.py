"""tick/send/receive return the clock's internal dict instead of "a copy, not your internal dict": later events mutate earlier timestamps, so earlier and later events compare "equal"."""
# expect-fail: vector_clock_orders_causal_events
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
        return self.clock

    def send(self) -> dict[str, int]:
        """A send event: count it and return the vector to put on the message."""
        self.clock[self.node] += 1
        return self.clock

    def receive(self, ts: dict[str, int]) -> dict[str, int]:
        """A message stamped `ts` arrives: merge (element-wise max), count the receive, return."""
        for n, t in ts.items():
            self.clock[n] = max(self.clock.get(n, 0), t)
        self.clock[self.node] += 1
        return self.clock


def compare(a: dict[str, int], b: dict[str, int]) -> str:
    """"before", "after", "equal" or "concurrent": how the event stamped a relates to b."""
    keys = set(a) | set(b)
    le = all(a.get(k, 0) <= b.get(k, 0) for k in keys)
    ge = all(a.get(k, 0) >= b.get(k, 0) for k in keys)
    if le and ge:
        return "equal"
    if le:
        return "before"
    if ge:
        return "after"
    return "concurrent"
