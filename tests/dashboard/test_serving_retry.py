"""tests/dashboard/serving.py: a port another process took before the bind is retried on a new one."""
from __future__ import annotations

import socket

import pytest

from tests.dashboard import serving


def test_a_taken_port_is_retried(engine, monkeypatch):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        ports = iter([taken.getsockname()[1], serving.free_port()])
        monkeypatch.setattr(serving, "free_port", lambda: next(ports))
        running = serving.serve_in_thread(engine)
        assert running.port != taken.getsockname()[1]
        running.stop(engine)


def test_gives_up_after_the_attempts(engine, monkeypatch):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        monkeypatch.setattr(serving, "free_port", lambda: taken.getsockname()[1])
        with pytest.raises(AssertionError, match="did not start on port"):
            serving.serve_in_thread(engine)
