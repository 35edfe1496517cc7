"""Gap timeout measured from the last delivery instead of from the waiting message's arrival:
after a quiet spell the buffer dead-letters a gap the moment a message arrives behind it."""
# expect-fail: reorder_buffer_gap_timeout_to_dlq
# %% cell: reorder_buffer
class ReorderBuffer:
    def __init__(self, gap_timeout: int) -> None:
        self.gap_timeout = gap_timeout
        self.dlq: list[int] = []
        self._next = 0
        self._waiting: dict[int, object] = {}
        self._progress = 0  # time of the last delivery

    def offer(self, seq: int, msg: object, now: int) -> list:
        if seq >= self._next and seq not in self._waiting:
            self._waiting[seq] = msg
        return self.tick(now)

    def tick(self, now: int) -> list:
        out = []
        while True:
            while self._next in self._waiting:
                out.append(self._waiting.pop(self._next))
                self._next += 1
                self._progress = now
            # BUG: the clock that matters is how long the waiting message has waited
            if not self._waiting or now - self._progress < self.gap_timeout:
                return out
            first = min(self._waiting)
            while self._next < first:
                self.dlq.append(self._next)
                self._next += 1
