// Analytics page: equity curve, cumulative P&L per strategy, allocation, win/loss distribution,
// strategy comparison, the risk table and execution quality (execution_panel.js). Refetched on portfolio_update, at most every 10 s.
import "./layout.js";
import { api } from "./api.js";
import { byId, el, panelError, panelLoading, panelShow, replaceChildren, td } from "./dom.js";
import * as fmt from "./format.js";
import * as charts from "./charts.js";
import { loadExecution } from "./execution_panel.js";
import { on } from "./socket.js";

const REFRESH_MS = 10_000;

const panels = {
  equity: byId("equity-panel"),
  cumulative: byId("cumulative-panel"),
  allocation: byId("allocation-panel"),
  distribution: byId("distribution-panel"),
  comparison: byId("comparison-panel"),
  risk: byId("risk-panel"),
};
const instances = {};

/** Create a chart the first time its panel has data (its canvas must be visible to size). */
function chart(key, make) {
  if (!instances[key]) instances[key] = make();
  return instances[key];
}

/** Run a loader; a failure shows the error state unless the panel already shows older data. */
async function guarded(panelList, silent, load, retry) {
  if (!silent) panelList.forEach((p) => panelLoading(p));
  try {
    await load();
  } catch (exc) {
    console.warn("analytics refresh failed:", exc);
    for (const p of panelList) {
      if (!silent || p.dataset.state !== "ready") panelError(p, `Could not load this chart: ${exc.message}`, retry);
    }
  }
}

// ---- equity curve and cumulative P&L ----------------------------------------------------

function loadCumulative(silent = false) {
  return guarded([panels.equity, panels.cumulative], silent, async () => {
    const data = await api.get("/api/chart/cumulative");
    const equity = charts.isoPairsToPoints(data.equity);
    if (panelShow(panels.equity, equity.length > 1)) {
      const c = chart("equity", () => charts.timeLineChart(byId("equity-chart"), { yLabel: "USDT" }));
      charts.setTimeSeries(c, [{ name: "equity", label: "Equity", points: equity, color: "#4f9dff" }]);
    }
    const series = Object.entries(data.strategies || {})
      .map(([name, pairs]) => ({ name, points: charts.isoPairsToPoints(pairs) }))
      .filter((s) => s.points.length > 0);
    if (panelShow(panels.cumulative, series.length > 0)) {
      const c = chart("cumulative", () => charts.timeLineChart(byId("cumulative-chart"), { yLabel: "USDT" }));
      charts.setTimeSeries(c, series);
    }
  }, () => loadCumulative(false));
}

// ---- allocation -------------------------------------------------------------------------

function loadAllocation(silent = false) {
  return guarded([panels.allocation], silent, async () => {
    const data = await api.get("/api/chart/allocation");
    const labels = Array.isArray(data.labels) ? data.labels : [];
    const values = Array.isArray(data.values) ? data.values.map(Number) : [];
    const has = labels.length > 0 && values.some((v) => v > 0);
    if (panelShow(panels.allocation, has)) {
      charts.setDoughnut(chart("allocation", () => charts.doughnutChart(byId("allocation-chart"))), labels, values);
    }
  }, () => loadAllocation(false));
}

// ---- win / loss distribution ------------------------------------------------------------

let distribution = {};
const strategySelect = byId("distribution-strategy");
strategySelect.addEventListener("change", renderDistribution);

function short(value, span) {
  return fmt.num(value, span >= 50 ? 0 : span >= 5 ? 1 : 2);
}

/** Axis text (a bucket's lower edge), tooltip title (its range) and midpoint for each bucket. */
function binLabels(bins, counts) {
  const span = bins.length > 1 ? Math.abs(bins[bins.length - 1] - bins[0]) : 1;
  if (bins.length === counts.length + 1) {
    return counts.map((_, i) => ({
      text: short(bins[i], span),
      title: `${fmt.num(bins[i])} to ${fmt.num(bins[i + 1])} USDT`,
      mid: (bins[i] + bins[i + 1]) / 2,
    }));
  }
  return counts.map((_, i) => ({ text: short(bins[i], span), title: `${fmt.num(bins[i])} USDT`, mid: Number(bins[i]) }));
}

function renderDistribution() {
  const names = Object.keys(distribution).filter((name) => {
    const d = distribution[name] || {};
    return Array.isArray(d.counts) && d.counts.some((c) => c > 0);
  });
  // Keep the select in step with the strategies that have data, keeping the user's choice.
  const chosen = names.includes(strategySelect.value) ? strategySelect.value : names[0];
  if (strategySelect.options.length !== names.length || [...strategySelect.options].some((o, i) => o.value !== names[i])) {
    replaceChildren(strategySelect, names.map((name) => el("option", { value: name }, fmt.label(name))));
  }
  strategySelect.hidden = names.length === 0;
  if (!panelShow(panels.distribution, names.length > 0)) return;
  strategySelect.value = chosen;
  const d = distribution[chosen];
  const labels = binLabels(d.bins || [], d.counts);
  byId("distribution-caption").textContent =
    `${fmt.label(chosen)}: ${d.wins ?? 0} winning and ${d.losses ?? 0} losing trades (P&L in USDT per bucket).`;
  const c = chart("distribution", () => charts.barChart(byId("distribution-chart")));
  charts.setBars(c, labels.map((l) => l.text), d.counts, {
    colors: labels.map((l) => (l.mid >= 0 ? charts.POSITIVE : charts.NEGATIVE)),
    datasetLabel: "trades",
    titles: labels.map((l) => l.title),
  });
}

function loadDistribution(silent = false) {
  return guarded([panels.distribution], silent, async () => {
    const data = await api.get("/api/chart/distribution");
    distribution = data.strategies || {};
    renderDistribution();
  }, () => loadDistribution(false));
}

// ---- risk table and comparison ----------------------------------------------------------

function riskRow(scope, m, isOverall = false) {
  return el("tr", { class: isOverall ? "row-total" : null }, [
    el("th", { scope: "row" }, scope),
    td(fmt.num(m.sharpe), "num"),
    td(fmt.num(m.sortino), "num"),
    td(fmt.pct(m.max_drawdown_pct), "num"),
    td(fmt.num(m.profit_factor), "num"),
    td(fmt.ratioPct(m.win_rate), "num"),
    td(fmt.money(m.avg_win), "num pos"),
    td(fmt.money(m.avg_loss), "num neg"),
    td(m.trades ?? fmt.DASH, "num"),
    td(fmt.signedMoney(m.net_pnl), `num ${fmt.signClass(m.net_pnl)}`),
  ]);
}

function loadRisk(silent = false) {
  return guarded([panels.risk, panels.comparison], silent, async () => {
    const data = await api.get("/api/analytics");
    const strategies = Object.entries(data.strategies || {}).sort(([a], [b]) => a.localeCompare(b));
    const rows = strategies.map(([name, m]) => riskRow(fmt.label(name), m || {}));
    if (data.overall) rows.unshift(riskRow("All strategies", data.overall, true));
    replaceChildren(byId("risk-body"), rows);
    panelShow(panels.risk, rows.length > 0);
    const traded = strategies.filter(([, m]) => m && (m.trades > 0 || m.net_pnl));
    if (panelShow(panels.comparison, traded.length > 0)) {
      const c = chart("comparison", () => charts.barChart(byId("comparison-chart"), { money: true }));
      charts.setBars(c, traded.map(([name]) => fmt.label(name)), traded.map(([, m]) => m.net_pnl || 0), { datasetLabel: "net P&L" });
    }
  }, () => loadRisk(false));
}

// ---- refresh ----------------------------------------------------------------------------

let lastRefresh = 0;
let refreshing = false;

async function refreshAll(silent) {
  if (refreshing) return;
  refreshing = true;
  lastRefresh = Date.now();
  try {
    await Promise.all([loadCumulative(silent), loadAllocation(silent), loadDistribution(silent), loadRisk(silent),
      loadExecution(silent)]);
    byId("analytics-refreshed").textContent = fmt.localTime();
  } finally {
    refreshing = false;
  }
}

on("portfolio_update", () => {
  if (Date.now() - lastRefresh >= REFRESH_MS) refreshAll(true);
});

if (!charts.chartAvailable()) {
  Object.values(panels).forEach((p) => panelError(p, "The chart library did not load; reload the page.", () => location.reload()));
  loadExecution(false); // a table: it needs no chart library
} else {
  refreshAll(false);
}
