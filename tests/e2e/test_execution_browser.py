"""The "Execution quality" panel of /analytics in a real browser against a run_bot.py subprocess."""
from __future__ import annotations

import pytest

from tests.e2e.conftest import WAIT_MS

pytestmark = pytest.mark.e2e

PANEL_READY = "() => document.querySelector('#execution-panel').dataset.state === 'ready'"


def cells(page, selector: str) -> list[list[str]]:
    return page.eval_on_selector_all(
        selector, "rows => rows.map(r => [...r.children].map(c => c.textContent.trim()))")


def test_the_panel_shows_a_row_per_strategy_and_exchange_as_the_api_says(bot_server, watched, shots):
    w = watched()
    page = w.open(bot_server.base_url, "/analytics")
    page.wait_for_function(PANEL_READY, timeout=WAIT_MS * 6)
    shown = cells(page, "#execution-body tr.row-total")
    api = {row["strategy"]: row for row in bot_server.get_json("/api/execution")["strategies"]}
    labels = {name.replace("_", " ").capitalize(): name for name in api}
    assert sorted(row[0] for row in shown) == sorted(labels)
    for row in shown:
        figures = api[labels[row[0]]]
        # The bot keeps trading between the page's fetch and this one: the page can only be behind.
        assert int(row[2].replace(",", "")) <= figures["fills"]
        assert (row[5] == "– / –") == (figures["slippage_bps"]["mean"] is None)  # a dash only without a decision mid
    exchange_rows = cells(page, "#execution-body tr.row-exchange")
    assert len(exchange_rows) >= sum(1 for row in api.values() if row["fills"])
    shots(page, "analytics-execution-1280")
    w.assert_clean()
