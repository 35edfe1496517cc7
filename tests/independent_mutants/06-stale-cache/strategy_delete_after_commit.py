"""Classic cache-aside: plain set on a miss, delete after commit. A read that started before the write can set the old value after the delete ("deleting alone races with a slow reader's set"): a stale value is left."""
# expect-fail: strategy_safe_basic_race
# %% cell: strategy
class Strategy:
    """Cache-aside for one key: which operations a read and a write perform."""

    def read(self, layers: list[str]) -> list[str]:
        """Operations of one read, e.g. ["get cache", "read primary", "set cache"]."""
        return [f"get {x}" for x in layers] + ["read primary"] + [f"set {x}" for x in reversed(layers)]

    def write(self, layers: list[str]) -> list[str]:
        """Operations of one write: one "write primary", later one "commit", and invalidation."""
        return ["write primary", "commit"] + [f"delete {x}" for x in layers]
