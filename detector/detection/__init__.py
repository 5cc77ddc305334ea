"""Detection: series keys, per-signal learners, correlation into alerts, the regime ledger."""
