"""Receive takes the max but does not add one: the receive event ties with the send (or with the
node's previous event), so the clock neither advances nor orders the receive after its send."""
# expect-fail: lamport_local_tick
# expect-fail: lamport_receive_takes_max
# expect-fail: lamport_respects_happens_before
# %% cell: lamport_clock
class LamportClock:
    def __init__(self) -> None:
        self.time = 0

    def tick(self) -> int:
        self.time += 1
        return self.time

    def send(self) -> int:
        return self.tick()

    def receive(self, ts: int) -> int:
        self.time = max(self.time, ts)  # BUG: a receive is an event too; it must add one
        return self.time
