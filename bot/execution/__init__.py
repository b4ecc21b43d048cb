"""Execution: how a paper order fills (the executor) and the book-walk and fee arithmetic beneath it."""
