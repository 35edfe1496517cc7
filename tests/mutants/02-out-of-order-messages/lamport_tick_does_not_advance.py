"""A local event reads the clock without advancing it: two events on one node share a time."""
# expect-fail: lamport_local_tick
# expect-fail: lamport_respects_happens_before
# %% cell: lamport_clock
class LamportClock:
    def __init__(self) -> None:
        self.time = 0

    def tick(self) -> int:
        return self.time  # BUG: a local event must advance the clock

    def send(self) -> int:
        self.time += 1
        return self.time

    def receive(self, ts: int) -> int:
        self.time = max(self.time, ts) + 1
        return self.time
