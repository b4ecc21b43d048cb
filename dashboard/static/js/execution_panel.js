// "Execution quality" panel (analytics page): GET /api/execution as one row per strategy and an
// indented row per exchange it used. Definitions: dashboard/API.md, "Execution row".
import { api } from "./api.js";
import { byId, el, labelCells, panelError, panelLoading, panelShow, replaceChildren, td } from "./dom.js";
import * as fmt from "./format.js";

const panel = byId("execution-panel");

function reasons(misses) {
  const parts = Object.entries(misses || {}).map(([reason, n]) => `${fmt.label(reason)}: ${n}`);
  return parts.length ? parts.join(", ") : null;
}

function cost(value) {
  return td(fmt.signedMoney(value), `num ${value > 0 ? "neg" : fmt.signClass(-value)}`);
}

function qualityRow(scope, r, isStrategy) {
  const slippage = r.slippage_bps || {};
  const taken = r.liquidity_taken_pct || {};
  const repeat = isStrategy
    ? `${r.repeat_fills ?? 0}` + (r.repeat_pnl_share === null || r.repeat_pnl_share === undefined
      ? "" : ` (${fmt.ratioPct(r.repeat_pnl_share)})`)
    : fmt.DASH;
  return el("tr", { class: isStrategy ? "row-total" : "row-exchange" }, [
    el("th", { scope: "row" }, scope),
    td(r.signals ?? 0, "num"),
    td(r.fills ?? 0, "num"),
    td(r.misses_total ?? 0, "num", reasons(r.misses)),
    td(fmt.ratioPct(r.fill_ratio), "num"),
    td(`${fmt.num(slippage.mean)} / ${fmt.num(slippage.p95)}`, "num"),
    cost(r.latency_cost_usdt),
    td(fmt.num(r.latency_ms_mean, 0), "num"),
    td(`${fmt.pct(taken.mean, 1)} / ${fmt.pct(taken.max, 1)}`, "num"),
    td(`${r.transfers ?? 0} (${fmt.money(r.transfer_fees_usdt)})`, "num"),
    td(`${fmt.money(r.borrow_fees_usdt)} (${r.margin_calls ?? 0})`, "num"),
    td(repeat, "num", isStrategy ? "fills after the first in one gap episode (share of realized P&L)" : null),
  ]);
}

/** Fetch and draw; a failure shows the error state unless the panel already shows older data. */
export async function loadExecution(silent = false) {
  if (!silent) panelLoading(panel);
  try {
    const data = await api.get("/api/execution");
    const strategies = Array.isArray(data.strategies) ? data.strategies : [];
    const rows = [];
    for (const s of strategies) {
      rows.push(qualityRow(fmt.label(s.strategy), s, true));
      for (const x of s.exchanges || []) rows.push(qualityRow(x.exchange, x, false));
    }
    replaceChildren(byId("execution-body"), rows);
    labelCells(byId("execution-body"));
    const active = strategies.some((s) => (s.signals ?? 0) > 0 || (s.transfers ?? 0) > 0 || (s.borrow_fee_entries ?? 0) > 0);
    panelShow(panel, active);
  } catch (exc) {
    console.warn("execution quality refresh failed:", exc);
    if (!silent || panel.dataset.state !== "ready") {
      panelError(panel, `Could not load the execution figures: ${exc.message}`, () => loadExecution(false));
    }
  }
}
