"""SET without commit: with autocommit off the SET joins an open transaction; the first runaway's
cancel rolls that transaction back and the timeout with it."""
# expect-fail: timeout_stops_runaway_keeps_workload
# %% cell: configure_session
def configure_session(conn) -> None:
    """Give this session a statement timeout that lasts for the whole session."""
    conn.execute("SET statement_timeout = '250ms'")
