"""The vector clock forgets to merge the sender's vector on receive: it only counts its own
events, so a receive looks concurrent with the send that caused it."""
# expect-fail: vector_clock_orders_causal_events
# %% edit: vector_clock
# replace:
#         """A message stamped `ts` arrives: merge (element-wise max), count the receive, return."""
#         for n, c in ts.items():
#             self.counts[n] = max(self.counts.get(n, 0), c)
#         return self.tick()
# with:
#         return self.tick()  # BUG: the sender's history is never merged in
# replace:
#     """"before", "after", "equal" or "concurrent": how the event stamped a relates to b."""
#     nodes = set(a) | set(b)
#     a_le_b = all(a.get(n, 0) <= b.get(n, 0) for n in nodes)
#     b_le_a = all(b.get(n, 0) <= a.get(n, 0) for n in nodes)
# with:
#     a_le_b = all(a[n] <= b[n] for n in a)
#     b_le_a = all(b[n] <= a[n] for n in a)
