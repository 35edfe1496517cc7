"""The write path updates only the layer named "cache" (the name seen in the examples) instead of every layer in `layers`; with ["local", "cache"] the local layer keeps the old value ("replace L by a layer name")."""
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
        return ["write primary", "commit", "set_if_newer cache"]
