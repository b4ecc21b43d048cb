"""Accounting: the ledger (the record of truth), the books it replays to, and the figures derived from it."""
