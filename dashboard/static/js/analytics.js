// Analytics page: equity vs trading equity vs buy and hold, cumulative P&L per strategy,
// allocation, win/loss distribution, strategy comparison, the risk table (each figure with its
// period and sample size), the round-trip table and execution quality (execution_panel.js).
// Refetched on portfolio_update, at most every 10 s.
import "./layout.js";
import { api } from "./api.js";
import { byId, el, labelCells, panelError, panelLoading, panelShow, replaceChildren, td } from "./dom.js";
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
  trips: byId("trips-panel"),
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

/** The P&L decomposition above the equity chart: total = strategies' net P&L + starting inventory. */
function renderDecomposition(p) {
  if (!p || p.total_pnl === undefined) return;
  for (const [id, v] of [["decomp-total", p.total_pnl], ["decomp-strategies", p.strategies_net_pnl], ["decomp-holdings", p.holdings_pnl]]) {
    const node = byId(id);
    node.textContent = fmt.signedMoney(v);
    node.className = `signed ${fmt.signClass(v)}`;
  }
  byId("decomp-as-of").textContent = p.as_of ? `at ${fmt.stamp(p.as_of)} market time` : "";
}

function loadCumulative(silent = false) {
  return guarded([panels.equity, panels.cumulative], silent, async () => {
    const [data, portfolio] = await Promise.all([api.get("/api/chart/cumulative"), api.get("/api/portfolio")]);
    renderDecomposition(portfolio);
    const equity = charts.isoPairsToPoints(data.equity);
    if (panelShow(panels.equity, equity.length > 1)) {
      const c = chart("equity", () => charts.timeLineChart(byId("equity-chart"), { yLabel: "USDT" }));
      charts.setTimeSeries(c, [
        { name: "equity", label: "Equity", points: equity, color: "#4f9dff" },
        { name: "trading_equity", label: "Trading equity", points: charts.isoPairsToPoints(data.trading_equity), color: "#f5a623" },
        { name: "buy_and_hold", label: "Buy and hold", points: charts.isoPairsToPoints(data.buy_and_hold), color: "#9aa7bd", dash: [6, 4] },
      ]);
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

const RATIOS = new Set(["sharpe", "sortino", "calmar", "volatility_pct"]);

/** A risk figure with its period and sample size under it; a ratio below the minimum says what it
 * still needs (drawdown is shown from the first period, so it only ever lacks one: a dash). */
function riskCell(m, key, format) {
  const needs = RATIOS.has(key) && (m[key] === null || m[key] === undefined) && m.needs_periods > 0;
  return el("td", { class: needs ? "num needs" : "num", dataset: { figure: key } },
    [needs ? fmt.needsText(m) : format(m[key]), el("small", { class: "figure-basis" }, fmt.basisText(m))]);
}

function riskRow(scope, m, isOverall = false) {
  return el("tr", { class: isOverall ? "row-total" : null }, [
    el("th", { scope: "row" }, scope),
    riskCell(m, "sharpe", fmt.num),
    riskCell(m, "sortino", fmt.num),
    riskCell(m, "calmar", fmt.num),
    riskCell(m, "volatility_pct", fmt.pct),
    riskCell(m, "max_drawdown_pct", fmt.pct),
    td(fmt.duration(m.max_drawdown_duration_seconds), "num"),
  ]);
}

function tripsRow(scope, m, isOverall = false) {
  return el("tr", { class: isOverall ? "row-total" : null }, [
    el("th", { scope: "row" }, scope),
    td(m.round_trips ?? fmt.DASH, "num"),
    td(fmt.ratioPct(m.win_rate), "num"),
    td(fmt.num(m.profit_factor), "num"),
    td(fmt.money(m.avg_win), "num pos"),
    td(fmt.signedMoney(m.avg_loss), "num neg"),
    td(fmt.signedMoney(m.expectancy), `num ${fmt.signClass(m.expectancy)}`),
    td(m.trades ?? fmt.DASH, "num"),
    td(fmt.signedMoney(m.net_pnl), `num ${fmt.signClass(m.net_pnl)}`),
  ]);
}

function riskCaption(data, overall) {
  const span = overall && overall.samples
    ? ` Equity history: ${overall.samples} samples over ${fmt.duration(overall.span_seconds)}, from ${fmt.dateTime(overall.start)} to ${fmt.dateTime(overall.end)}.`
    : "";
  return `Returns resampled to ${data.period} periods (${data.period_rule}), annualised with a 365-day year, `
    + `computed with empyrical-reloaded; the ratios need ${data.min_periods} periods.${span}`;
}

function loadRisk(silent = false) {
  return guarded([panels.risk, panels.trips, panels.comparison], silent, async () => {
    const data = await api.get("/api/analytics");
    const strategies = Object.entries(data.strategies || {}).sort(([a], [b]) => a.localeCompare(b));
    const overall = data.overall || null;
    const rows = strategies.map(([name, m]) => riskRow(fmt.label(name), m || {}));
    if (overall) rows.unshift(riskRow("Equity", overall, true), riskRow("Trading equity", overall.trading || {}, true));
    replaceChildren(byId("risk-body"), rows);
    labelCells(byId("risk-body"));
    byId("risk-caption").textContent = riskCaption(data, overall);
    panelShow(panels.risk, Boolean(overall && overall.samples));
    const tripRows = strategies.map(([name, m]) => tripsRow(fmt.label(name), m || {}));
    if (overall) tripRows.unshift(tripsRow("All strategies", overall, true));
    replaceChildren(byId("trips-body"), tripRows);
    labelCells(byId("trips-body"));
    panelShow(panels.trips, strategies.length > 0);
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

on("portfolio_update", (payload) => {
  renderDecomposition(payload);
  if (Date.now() - lastRefresh >= REFRESH_MS) refreshAll(true);
});

if (!charts.chartAvailable()) {
  Object.values(panels).forEach((p) => panelError(p, "The chart library did not load; reload the page.", () => location.reload()));
  loadExecution(false); // a table: it needs no chart library
} else {
  refreshAll(false);
}
