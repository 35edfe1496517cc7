"""Sets lock_timeout instead of statement_timeout: it only bounds waiting for locks, so a runaway scan that waits on no lock is never cancelled ("the server cancels any statement that runs too long")."""
# expect-fail: timeout_stops_runaway_keeps_workload
# %% cell: configure_session
def configure_session(conn) -> None:
    """Give this session a statement timeout that lasts for the whole session."""
    conn.execute("SET lock_timeout = '250ms'")
    conn.commit()  # autocommit is off: a SET that is never committed is undone by the first rollback
