"""The decisions: each request that changes state is decided here from the current state,
read through the store's named queries, and committed as one event of the ledger."""
