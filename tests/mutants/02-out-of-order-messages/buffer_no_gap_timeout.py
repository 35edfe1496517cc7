"""No gap timeout: the buffer waits forever for a lost message, so one drop blocks the stream
(and tick() never releases anything)."""
# expect-fail: reorder_buffer_gap_timeout_to_dlq
# %% edit: reorder_buffer
# replace:
#         self._next = 0  # the lowest number neither delivered nor dead-lettered
#         self._waiting: dict[int, tuple[object, int]] = {}  # seq -> (msg, first arrival time)
# with:
#         self._next = 0
#         self._waiting: dict[int, object] = {}
# replace:
#             self._waiting[seq] = (msg, now)
# with:
#             self._waiting[seq] = msg
# replace:
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
#         while self._next in self._waiting:  # BUG: a gap that never fills blocks everything after it
#             out.append(self._waiting.pop(self._next))
#             self._next += 1
#         return out
