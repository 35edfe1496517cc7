"""compare() says "before" only when every entry of a is strictly smaller than b's; a happens-before b when a <= b element-wise and a != b, so e.g. two events of the same node compare "concurrent"."""
# expect-fail: vector_clock_orders_causal_events
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
    keys = set(a) | set(b)
    if all(a.get(k, 0) == b.get(k, 0) for k in keys):
        return "equal"
    if all(a.get(k, 0) < b.get(k, 0) for k in keys):
        return "before"
    if all(a.get(k, 0) > b.get(k, 0) for k in keys):
        return "after"
    return "concurrent"
