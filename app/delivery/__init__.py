"""Push delivery of runnable tasks to compute, from a durable outbox (see outbox.py)."""
