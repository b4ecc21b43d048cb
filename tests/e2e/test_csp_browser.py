"""CSP connect-src 'self' in real Chromium: the dashboard's Socket.IO still upgrades to a
websocket on its own host, and a websocket to any other host is blocked by the policy."""
from __future__ import annotations

import pytest

pytestmark = pytest.mark.e2e

OPEN_SOCKET = """async (url) => {
    const opened = await new Promise((resolve) => {
        let socket;
        try { socket = new WebSocket(url); } catch (error) { resolve('thrown: ' + error.name); return; }
        socket.onopen = () => { socket.close(); resolve('open'); };
        socket.onerror = () => resolve('error');
    });
    return opened;
}"""


def test_socketio_upgrades_to_a_same_host_websocket(bot_server, watched):
    watch = watched()
    host = bot_server.base_url.removeprefix("http://")
    with watch.page.expect_websocket(lambda ws: "transport=websocket" in ws.url, timeout=30_000) as opened:
        watch.open(bot_server.base_url, "/")
    websocket = opened.value
    assert websocket.url.startswith(f"ws://{host}/socket.io/"), websocket.url
    websocket.wait_for_event("framereceived", timeout=15_000)  # broadcasts arrive over it
    assert not websocket.is_closed()
    watch.assert_clean()


def test_websocket_to_another_host_is_blocked_by_the_csp(bot_server, watched):
    watch = watched()
    watch.open(bot_server.base_url, "/")
    port = bot_server.port
    same = watch.page.evaluate(OPEN_SOCKET, f"ws://127.0.0.1:{port}/socket.io/?EIO=4&transport=websocket")
    assert same == "open"
    assert watch.csp_violations() == []
    other = watch.page.evaluate(OPEN_SOCKET, f"ws://127.0.0.2:{port}/socket.io/?EIO=4&transport=websocket")
    assert other != "open"
    violations = watch.csp_violations()
    assert any(v.startswith("connect-src ws://127.0.0.2") for v in violations), violations
