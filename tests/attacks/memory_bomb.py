"""Exhaust memory: keep allocating until the machine or the process gives out."""
_hoard = []
while True:
    _hoard.append(bytearray(256 * 1024 * 1024))
