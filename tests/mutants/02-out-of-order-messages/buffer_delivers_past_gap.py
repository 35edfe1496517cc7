"""The "highest seen wins" consumer: it delivers any message newer than the last one delivered
and drops older ones, so it delivers past gaps and silently loses the overtaken messages."""
# expect-fail: reorder_buffer_delivers_in_order
# expect-fail: reorder_buffer_drops_duplicates
# expect-fail: reorder_buffer_gap_timeout_to_dlq
# %% cell: reorder_buffer
class ReorderBuffer:
    def __init__(self, gap_timeout: int) -> None:
        self.gap_timeout = gap_timeout
        self.dlq: list[int] = []
        self._last = -1

    def offer(self, seq: int, msg: object, now: int) -> list:
        if seq > self._last:  # BUG: nothing waits for the missing numbers in between
            self._last = seq
            return [msg]
        return []

    def tick(self, now: int) -> list:
        return []
