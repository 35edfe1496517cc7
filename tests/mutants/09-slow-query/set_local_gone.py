"""SET LOCAL inside a transaction that is gone: the timeout lasts until that transaction ends, so
every later request runs without one."""
# expect-fail: timeout_stops_runaway_keeps_workload
# %% cell: configure_session
def configure_session(conn) -> None:
    """Give this session a statement timeout that lasts for the whole session."""
    with conn.transaction():
        conn.execute("SET LOCAL statement_timeout = '250ms'")
