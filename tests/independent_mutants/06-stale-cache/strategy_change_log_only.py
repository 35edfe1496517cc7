"""The writer only writes and commits; a CDC consumer (on_change) updates the cache later. It never leaves a stale value, but a read that starts after a write finished can still hit the old cached version ("no old reads")."""
# expect-fail: strategy_safe_basic_race
# %% cell: strategy
class Strategy:
    """Cache-aside for one key: which operations a read and a write perform."""

    def read(self, layers: list[str]) -> list[str]:
        """Operations of one read, e.g. ["get cache", "read primary", "set cache"]."""
        return ([f"get {x}" for x in layers] + ["read primary"]
                + [f"set_if_newer {x}" for x in reversed(layers)])

    def write(self, layers: list[str]) -> list[str]:
        """Operations of one write: one "write primary", later one "commit", and invalidation."""
        return ["write primary", "commit"]

    def on_change(self, layers: list[str]) -> list[str]:
        return [f"set_if_newer {x}" for x in layers]
