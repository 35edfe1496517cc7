"""Timeout too low: 50 ms stops the runaway but also cancels normal requests that need 100 ms."""
# expect-fail: timeout_stops_runaway_keeps_workload
# %% cell: configure_session
def configure_session(conn) -> None:
    """Give this session a statement timeout that lasts for the whole session."""
    conn.execute("SET statement_timeout = '50ms'")
    conn.commit()
