"""The gap timeout uses > instead of >=: a message that has waited exactly gap_timeout is held one
call too long."""
# expect-fail: reorder_buffer_gap_timeout_to_dlq
# %% edit: reorder_buffer
# replace:
#             if not any(now - t >= self.gap_timeout for _, t in self._waiting.values()):
# with:
#             if not any(now - t > self.gap_timeout for _, t in self._waiting.values()):  # BUG
