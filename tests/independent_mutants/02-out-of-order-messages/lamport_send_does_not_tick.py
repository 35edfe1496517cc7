"""send() stamps the message with the current time without advancing the clock, as if a send were not an event ("a send is an event"): a send right after a tick gets the same time as the tick."""
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
        # the message carries the time of the last event; no new tick for sending it
        return self.time

    def receive(self, ts: int) -> int:
        """A message stamped `ts` arrives: jump past both clocks and return the receive's time."""
        self.time = max(self.time, ts) + 1
        return self.time
