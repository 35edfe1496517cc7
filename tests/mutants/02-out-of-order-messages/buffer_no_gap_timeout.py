"""No gap timeout: the buffer waits forever for a lost message, so one drop blocks the stream
(and tick() never releases anything)."""
# expect-fail: reorder_buffer_gap_timeout_to_dlq
# %% cell: reorder_buffer
class ReorderBuffer:
    def __init__(self, gap_timeout: int) -> None:
        self.gap_timeout = gap_timeout
        self.dlq: list[int] = []
        self._next = 0
        self._waiting: dict[int, object] = {}

    def offer(self, seq: int, msg: object, now: int) -> list:
        if seq >= self._next and seq not in self._waiting:
            self._waiting[seq] = msg
        return self.tick(now)

    def tick(self, now: int) -> list:
        out = []
        while self._next in self._waiting:  # BUG: a gap that never fills blocks everything after it
            out.append(self._waiting.pop(self._next))
            self._next += 1
        return out
