"""Delete before, delete after and set_if_newer after the commit: safe, but with two layers the write has 8 operations; the rules allow "at most six operations each"."""
# expect-fail: strategy_safe_with_two_layers
# %% cell: strategy
class Strategy:
    """Cache-aside for one key: which operations a read and a write perform."""

    def read(self, layers: list[str]) -> list[str]:
        """Operations of one read, e.g. ["get cache", "read primary", "set cache"]."""
        return ([f"get {x}" for x in layers] + ["read primary"]
                + [f"set_if_newer {x}" for x in reversed(layers)])

    def write(self, layers: list[str]) -> list[str]:
        """Operations of one write: one "write primary", later one "commit", and invalidation."""
        dels = [f"delete {x}" for x in layers]
        return dels + ["write primary", "commit"] + dels + [f"set_if_newer {x}" for x in layers]
