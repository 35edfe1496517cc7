"""Each call gives up on at most one gap (the one before the lowest expired message); when two expired messages are separated by another missing number, the second keeps waiting past gap_timeout in that call, violating rule 3 ("no message waits in the buffer for gap_timeout or more")."""
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
        expired = [s for s, (_, t) in self.waiting.items() if now - t >= self.gap_timeout]
        if not expired:
            return []
        first = min(expired)
        while self.next < first:
            self.dlq.append(self.next)
            self.next += 1
        return self._drain()

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
