"""Waiting messages kept in a list, not keyed by number: a second copy of a message that is still
waiting is kept too, and both copies are delivered."""
# expect-fail: reorder_buffer_drops_duplicates
# %% cell: reorder_buffer
class ReorderBuffer:
    def __init__(self, gap_timeout: int) -> None:
        self.gap_timeout = gap_timeout
        self.dlq: list[int] = []
        self._next = 0
        self._waiting: list[tuple[int, object, int]] = []  # BUG: a list lets one seq in twice

    def offer(self, seq: int, msg: object, now: int) -> list:
        if seq >= self._next:
            self._waiting.append((seq, msg, now))
        return self.tick(now)

    def tick(self, now: int) -> list:
        out = []
        while True:
            self._waiting.sort(key=lambda w: w[0])
            while self._waiting and self._waiting[0][0] <= self._next:
                seq, msg, _ = self._waiting.pop(0)
                out.append(msg)
                self._next = seq + 1
            if not any(now - t >= self.gap_timeout for _, _, t in self._waiting):
                return out
            first = self._waiting[0][0]
            while self._next < first:
                self.dlq.append(self._next)
                self._next += 1
