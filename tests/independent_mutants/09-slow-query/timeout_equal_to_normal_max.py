"""statement_timeout = 100 ms, the longest normal request: a normal request that takes up to 100 ms of work plus overhead is cancelled; "normal requests take up to 100 ms: every one must succeed"."""
# expect-fail: timeout_stops_runaway_keeps_workload
# %% cell: configure_session
def configure_session(conn) -> None:
    """Give this session a statement timeout that lasts for the whole session."""
    conn.execute("SET statement_timeout = '100ms'")
    conn.commit()  # autocommit is off: a SET that is never committed is undone by the first rollback
