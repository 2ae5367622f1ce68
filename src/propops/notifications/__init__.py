"""Email outbox: messages written in the caller's transaction, delivered later by a worker."""
