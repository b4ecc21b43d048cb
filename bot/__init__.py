"""The paper-trading engine. Knows nothing of Flask."""
