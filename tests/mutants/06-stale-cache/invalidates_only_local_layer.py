"""Invalidates only the nearest (local) layer: the shared cache keeps the old value and refills the local one."""
# expect-fail: strategy_safe_with_two_layers
# %% cell: strategy
class Strategy:
    """Cache-aside for one key: which operations a read and a write perform."""

    def read(self, layers: list[str]) -> list[str]:
        return [f"get {la}" for la in layers] + ["read primary"] + [
            f"set_if_newer {la}" for la in reversed(layers)
        ]

    def write(self, layers: list[str]) -> list[str]:
        return ["write primary", "commit", f"delete {layers[0]}"]
