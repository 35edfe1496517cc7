"""tick() returns the clock's own dict instead of a copy: a timestamp handed out earlier changes
when the clock moves on (and a caller that writes on it changes the clock)."""
# expect-fail: vector_clock_orders_causal_events
# %% edit: vector_clock
# replace:
#         self.counts[self.node] += 1
#         return dict(self.counts)
# with:
#         self.counts[self.node] += 1
#         return self.counts  # BUG: the caller gets the internal dict, not a copy
