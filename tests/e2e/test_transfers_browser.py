"""The overview's transfers panel in a real browser: it leaves its loading state, and its rows are
GET /api/transfers' (run_bot.py subprocess, headless Chromium; see conftest.py)."""
from __future__ import annotations

import pytest

from tests.e2e.conftest import WAIT_MS

pytestmark = pytest.mark.e2e


def test_the_transfers_panel_shows_the_transfers_of_the_api(bot_server, watched):
    w = watched()
    page = w.open(bot_server.base_url, "/")
    # The default market drains a wallet within a few simulated minutes: a transfer shows up.
    page.wait_for_function("() => document.querySelectorAll('#transfers-body tr').length > 0", timeout=WAIT_MS * 3)
    assert page.locator("#transfers-panel").get_attribute("data-state") == "ready"
    shown = page.eval_on_selector_all("#transfers-body tr", "rows => rows.map(r => r.dataset.transferId)")
    rows = {row["id"]: row for row in bot_server.get_json("/api/transfers")["transfers"]}
    assert set(shown) <= set(rows) and shown == sorted(shown, reverse=True)  # newest first
    cells = page.eval_on_selector_all("#transfers-body tr:first-child td", "cells => cells.map(c => c.textContent)")
    first = rows[shown[0]]
    assert cells[1:4] == [first["asset"], first["from"], first["to"]]
    w.assert_clean()
