"""Versioned write-through, but the writer fills the cache before it commits: readers can return a value that is not committed yet, and when the commit rolls back the value never existed (rule 3, "no dirty reads")."""
# expect-fail: strategy_safe_before_commit
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
        return ["write primary"] + [f"set_if_newer {x}" for x in layers] + ["commit"]
