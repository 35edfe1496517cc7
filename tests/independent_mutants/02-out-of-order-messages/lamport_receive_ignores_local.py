"""receive() jumps to ts + 1 and forgets the local clock, so a receive of an old message goes backwards: violates "each event on a node gets a strictly larger time than the last" (receive must take max(local, ts) + 1)."""
# expect-fail: lamport_local_tick
# expect-fail: lamport_respects_happens_before
# %% cell: lamport_clock
class LamportClock:
    """A Lamport clock: every event gets a larger time than everything that happened before it."""

    def __init__(self) -> None:
        self.time = 0

    def tick(self) -> int:
        """A local event: advance the clock and return the event's time."""
        self.time += 1
        return self.time

    def send(self) -> int:
        """A send event: advance the clock and return the timestamp to put on the message."""
        self.time += 1
        return self.time

    def receive(self, ts: int) -> int:
        """A message stamped `ts` arrives: jump past both clocks and return the receive's time."""
        self.time = ts + 1
        return self.time
