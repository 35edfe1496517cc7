"""Timeout too high: 5 s is "safe" for the app but lets a runaway hold a core for 5 s."""
# expect-fail: timeout_stops_runaway_keeps_workload
# %% cell: configure_session
def configure_session(conn) -> None:
    """Give this session a statement timeout that lasts for the whole session."""
    conn.execute("SET statement_timeout = '5s'")
    conn.commit()
