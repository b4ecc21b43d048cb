"""Strategies: each turns a snapshot and a read-only view of its positions into Signals."""
