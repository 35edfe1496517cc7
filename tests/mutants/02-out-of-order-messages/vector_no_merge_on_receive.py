"""The vector clock forgets to merge the sender's vector on receive: it only counts its own
events, so a receive looks concurrent with the send that caused it."""
# expect-fail: vector_clock_orders_causal_events
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
        return self.tick()  # BUG: the sender's history is never merged in


def compare(a: dict[str, int], b: dict[str, int]) -> str:
    a_le_b = all(a[n] <= b[n] for n in a)
    b_le_a = all(b[n] <= a[n] for n in a)
    if a_le_b and b_le_a:
        return "equal"
    if a_le_b:
        return "before"
    if b_le_a:
        return "after"
    return "concurrent"
