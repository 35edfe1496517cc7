"""Receive without max: on receive the clock only ticks, ignoring the timestamp on the message."""
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
        return self.tick()  # BUG: the sender's clock never pulls this one forward
