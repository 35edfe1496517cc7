"""Only the lowest waiting sequence number is checked for the timeout; a higher number that arrived earlier (reordering) can wait past gap_timeout, violating "in any call with now - arrived >= gap_timeout for a waiting message, every missing number before it is appended to dlq"."""
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
            if not self.waiting:
                return out
            last = min(self.waiting)  # the head of the queue is the one that waited longest
            if now - self.waiting[last][1] < self.gap_timeout:
                return out
            while self.next <= last:
                if self.next in self.waiting:
                    out.append(self.waiting.pop(self.next)[0])
                else:
                    self.dlq.append(self.next)
                self.next += 1
            out += self._drain()

    def offer(self, seq: int, msg: object, now: int) -> list:
        """Message `seq` arrives at `now`; return what is delivered now, in order."""
        if seq < self.next or seq in self.waiting:
            return []
        self.waiting[seq] = (msg, now)
        out = self._drain()
        out += self._expire(now)
        return out

    def tick(self, now: int) -> list:
        """Time is `now`: release what is contiguous or has waited `gap_timeout`; return it."""
        return self._drain() + self._expire(now)
