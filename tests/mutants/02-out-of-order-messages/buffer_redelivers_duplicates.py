"""Waiting messages kept in a list, not keyed by number: a second copy of a message that is still
waiting is kept too, and both copies are delivered."""
# expect-fail: reorder_buffer_drops_duplicates
# %% edit: reorder_buffer
# replace:
#         self._next = 0  # the lowest number neither delivered nor dead-lettered
#         self._waiting: dict[int, tuple[object, int]] = {}  # seq -> (msg, first arrival time)
# with:
#         self._next = 0
#         self._waiting: list[tuple[int, object, int]] = []  # BUG: a list lets one seq in twice
# replace:
#         """Message `seq` arrives at `now`; return what is delivered now, in order."""
#         if seq >= self._next and seq not in self._waiting:
#             self._waiting[seq] = (msg, now)
# with:
#         if seq >= self._next:
#             self._waiting.append((seq, msg, now))
# replace:
#             while self._next in self._waiting:
#                 out.append(self._waiting.pop(self._next)[0])
#                 self._next += 1
#             if not any(now - t >= self.gap_timeout for _, t in self._waiting.values()):
# with:
#             self._waiting.sort(key=lambda w: w[0])
#             while self._waiting and self._waiting[0][0] <= self._next:
#                 seq, msg, _ = self._waiting.pop(0)
#                 out.append(msg)
#                 self._next = seq + 1
#             if not any(now - t >= self.gap_timeout for _, _, t in self._waiting):
# replace:
#             # Some waiting message has waited long enough: give up on the gap in front of the
#             # first waiting one, deliver from there, and look again.
#             first = min(self._waiting)
# with:
#             first = self._waiting[0][0]
