"""A duplicate of a message that is already waiting replaces the waiting copy and so restarts its arrival time: it is delivered once, but "no message waits in the buffer for gap_timeout or more" is broken when duplicates arrive while a gap is pending."""
# expect-fail: reorder_buffer_gap_timeout_to_dlq
# %% cell: reorder_buffer
class ReorderBuffer:
    """Delivers a numbered stream once each, in order; gives up on a gap after gap_timeout."""

    def __init__(self, gap_timeout: int) -> None:
        self.gap_timeout = gap_timeout
        self.dlq: list[int] = []
        self.next = 0  # the next sequence number to hand out
        self.waiting = {}  # seq -> (msg, arrived)

    def _drain(self) -> list:
        out = []
        while self.next in self.waiting:
            out.append(self.waiting.pop(self.next)[0])
            self.next += 1
        return out

    def _expire(self, now: int) -> list:
        out = []
        while True:
            expired = [s for s, (_, t) in self.waiting.items() if now - t >= self.gap_timeout]
            if not expired:
                return out
            last = max(expired)
            while self.next <= last:
                if self.next in self.waiting:
                    out.append(self.waiting.pop(self.next)[0])
                else:
                    self.dlq.append(self.next)
                self.next += 1
            out += self._drain()

    def offer(self, seq: int, msg: object, now: int) -> list:
        """Message `seq` arrives at `now`; return what is delivered now, in order."""
        if seq < self.next:
            return []  # delivered or dead-lettered already
        self.waiting[seq] = (msg, now)
        out = self._drain()
        out += self._expire(now)
        return out

    def tick(self, now: int) -> list:
        """Time is `now`: release what is contiguous or has waited `gap_timeout`; return it."""
        return self._drain() + self._expire(now)
