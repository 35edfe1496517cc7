"""A duplicate copy of a message is recognised and its receive returns the current time without advancing: the notebook says a receive is an event and "a message may arrive twice ... that must not break anything", so every receive (duplicate or not) needs a strictly larger time."""
# expect-fail: lamport_local_tick
# %% cell: lamport_clock
class LamportClock:
    """A Lamport clock: every event gets a larger time than everything that happened before it."""

    def __init__(self) -> None:
        self.time = 0
        self.seen: set[int] = set()

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
        if ts in self.seen:
            return self.time  # a duplicate: nothing new happened
        self.seen.add(ts)
        self.time = max(self.time, ts) + 1
        return self.time
