"""receive() sets the clock to max(local, ts) without the "+ 1": a receive is an event and must get a time larger than the stamp it carries ("a receive gets a time larger than the timestamp"), and larger than the node's previous event."""
# expect-fail: lamport_receive_takes_max
# expect-fail: lamport_local_tick
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
        self.time = max(self.time, ts)
        return self.time
