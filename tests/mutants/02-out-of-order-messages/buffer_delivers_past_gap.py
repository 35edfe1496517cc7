"""The "highest seen wins" consumer: it delivers any message newer than the last one delivered
and drops older ones, so it delivers past gaps and silently loses the overtaken messages."""
# expect-fail: reorder_buffer_delivers_in_order
# expect-fail: reorder_buffer_drops_duplicates
# expect-fail: reorder_buffer_gap_timeout_to_dlq
# %% edit: reorder_buffer
# replace:
#         self._next = 0  # the lowest number neither delivered nor dead-lettered
#         self._waiting: dict[int, tuple[object, int]] = {}  # seq -> (msg, first arrival time)
# with:
#         self._last = -1
# replace:
#         """Message `seq` arrives at `now`; return what is delivered now, in order."""
#         if seq >= self._next and seq not in self._waiting:
#             self._waiting[seq] = (msg, now)
#         return self.tick(now)
# with:
#         if seq > self._last:  # BUG: nothing waits for the missing numbers in between
#             self._last = seq
#             return [msg]
#         return []
# replace:
#         """Time is `now`: release what is contiguous or has waited `gap_timeout`; return it."""
#         out = []
#         while True:
#             while self._next in self._waiting:
#                 out.append(self._waiting.pop(self._next)[0])
#                 self._next += 1
#             if not any(now - t >= self.gap_timeout for _, t in self._waiting.values()):
#                 return out
#             # Some waiting message has waited long enough: give up on the gap in front of the
#             # first waiting one, deliver from there, and look again.
#             first = min(self._waiting)
#             while self._next < first:
#                 self.dlq.append(self._next)
#                 self._next += 1
# with:
#         return []
