"""Gap timeout measured from the last delivery instead of from the waiting message's arrival:
after a quiet spell the buffer dead-letters a gap the moment a message arrives behind it."""
# expect-fail: reorder_buffer_gap_timeout_to_dlq
# %% edit: reorder_buffer
# replace:
#         self._next = 0  # the lowest number neither delivered nor dead-lettered
#         self._waiting: dict[int, tuple[object, int]] = {}  # seq -> (msg, first arrival time)
# with:
#         self._next = 0
#         self._waiting: dict[int, object] = {}
#         self._progress = 0  # time of the last delivery
# replace:
#             self._waiting[seq] = (msg, now)
# with:
#             self._waiting[seq] = msg
# replace:
#                 out.append(self._waiting.pop(self._next)[0])
# with:
#                 out.append(self._waiting.pop(self._next))
# replace:
#             if not any(now - t >= self.gap_timeout for _, t in self._waiting.values()):
# with:
#                 self._progress = now
#             # BUG: the clock that matters is how long the waiting message has waited
#             if not self._waiting or now - self._progress < self.gap_timeout:
