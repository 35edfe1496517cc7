"""Version check missing: the reader fills the cache with a blind set, so its old value overwrites the writer's tombstone."""
# expect-fail: strategy_safe_basic_race
# expect-fail: strategy_safe_before_commit
# expect-fail: strategy_safe_with_replica_lag
# expect-fail: strategy_safe_with_two_layers
# %% edit: strategy
# replace:
#         """Operations of one read, e.g. ["get cache", "read primary", "set cache"]."""
#         # Nearest layer first; on a miss, the primary (never the replica: it may lag), then
#         # fill the layers farthest first, refusing to overwrite anything newer or a newer tombstone.
#         return (
#             [f"get {layer}" for layer in layers]
#             + ["read primary"]
#             + [f"set_if_newer {layer}" for layer in reversed(layers)]
#         )
# with:
#         return [f"get {la}" for la in layers] + ["read primary"] + [
#             f"set {la}" for la in reversed(layers)
#         ]
# replace:
#         """Operations of one write: one "write primary", later one "commit", and invalidation."""
#         # Touch the cache only after the commit succeeded; the delete leaves a tombstone with
#         # this write's version, so a slow reader's older value is refused by set_if_newer.
#         return ["write primary", "commit"] + [f"delete {layer}" for layer in reversed(layers)]
# with:
#         return ["write primary", "commit"] + [f"delete {la}" for la in reversed(layers)]
