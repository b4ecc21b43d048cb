// Market page: every quote, the cross-exchange gaps, and a live mid-price chart for the chosen
// symbol (one line per exchange, a bounded window kept for every symbol since the page opened).
import "./layout.js";
import "./price_chart.js";
import "./mini_charts.js";
import { api } from "./api.js";
import { byId, el, labelCells, panelError, panelLoading, panelShow, replaceChildren, td } from "./dom.js";
import * as fmt from "./format.js";
import * as charts from "./charts.js";
import { on } from "./socket.js";
import { initOrderTicket } from "./order_ticket.js";

const WINDOW = 300; // points kept per exchange and symbol

const panels = { chart: byId("chart-panel"), quotes: byId("quotes-panel"), cross: byId("cross-panel") };
const symbolSelect = byId("market-symbol");
const history = new Map(); // symbol -> Map(exchange -> [{x, y}])
let lastTick = null;
let priceChart = null;

function record(market) {
  const tick = market.tick ?? market.as_of;
  if (tick !== undefined && tick !== null && tick === lastTick) return;
  lastTick = tick;
  const x = market.as_of ? Date.parse(market.as_of) : Date.now();
  for (const q of market.quotes) {
    const mid = (q.bid + q.ask) / 2;
    if (!Number.isFinite(mid)) continue;
    if (!history.has(q.symbol)) history.set(q.symbol, new Map());
    const series = history.get(q.symbol);
    if (!series.has(q.exchange)) series.set(q.exchange, []);
    const points = series.get(q.exchange);
    points.push({ x, y: mid });
    if (points.length > WINDOW) points.splice(0, points.length - WINDOW);
  }
}

function syncSymbols() {
  const symbols = [...history.keys()].sort();
  const current = [...symbolSelect.options].map((o) => o.value);
  if (symbols.join("|") !== current.join("|")) {
    const chosen = symbolSelect.value;
    replaceChildren(symbolSelect, symbols.map((s) => el("option", { value: s }, s)));
    symbolSelect.value = symbols.includes(chosen) ? chosen : symbols.includes("BTC/USDT") ? "BTC/USDT" : symbols[0] || "";
  }
}

function renderChart() {
  if (!charts.chartAvailable()) return;
  const series = history.get(symbolSelect.value);
  const count = series ? Math.max(0, ...[...series.values()].map((p) => p.length)) : 0;
  if (!panelShow(panels.chart, count > 0)) return;
  if (!priceChart) {
    priceChart = charts.timeLineChart(byId("price-chart"), { format: fmt.price, tickFormat: fmt.axisPrice });
  }
  const lines = [...series.entries()].sort().map(([exchange, points]) => ({ name: exchange, label: exchange, points: [...points] }));
  charts.setTimeSeries(priceChart, lines);
  byId("chart-note").textContent =
    `Mid price ((bid + ask) / 2) on each exchange; the last ${count} ticks since this page opened, market time in UTC.`;
}

function renderQuotes(market) {
  const rows = [...market.quotes]
    .sort((a, b) => a.symbol.localeCompare(b.symbol) || a.exchange.localeCompare(b.exchange))
    .map((q, i, all) => el("tr", { class: i > 0 && all[i - 1].symbol === q.symbol ? "row-cont" : "row-group" }, [
      td(q.symbol, "nowrap"),
      td(q.exchange),
      td(fmt.price(q.bid), "num"),
      td(fmt.price(q.ask), "num"),
      td(fmt.pct(q.spread_pct, 3), "num"),
      td(fmt.pct(q.change_24h_pct, 2, true), `num ${fmt.signClass(q.change_24h_pct)}`),
      td(Number.isFinite(q.age_seconds) ? `${q.age_seconds.toFixed(1)} s` : fmt.DASH, "num muted"),
    ]));
  replaceChildren(byId("quotes-body"), rows);
  const changeHead = byId("quotes-body").closest("table").querySelector('th[data-col="change"]');
  if (changeHead) {
    changeHead.textContent = fmt.changeLabel(market.change_window_seconds);
    changeHead.title = "Change of the last price over this much market time (on the simulator: since its oldest candle, at most 24 h)";
  }
  labelCells(byId("quotes-body"));  // after the Change header's name: stacked rows at 390 px show it
  byId("quotes-as-of").textContent = market.as_of ? `as of ${fmt.stamp(market.as_of)} market time` : "";
  panelShow(panels.quotes, rows.length > 0);

  const cross = Array.isArray(market.cross_exchange) ? market.cross_exchange : [];
  const crossRows = cross.map((c) => el("tr", {}, [
    td(c.symbol, "nowrap"),
    td(c.buy_exchange),
    td(fmt.price(c.ask), "num"),
    td(c.sell_exchange),
    td(fmt.price(c.bid), "num"),
    td(fmt.pct(c.gap_pct, 3, true), `num ${c.gap_pct > 0 ? "pos strong" : fmt.signClass(c.gap_pct)}`),
  ]));
  replaceChildren(byId("cross-body"), crossRows);
  labelCells(byId("cross-body"));
  panelShow(panels.cross, crossRows.length > 0);
}

function update(market) {
  if (!market || !Array.isArray(market.quotes)) return;
  record(market);
  syncSymbols();
  renderQuotes(market);
  renderChart();
}

async function load() {
  Object.values(panels).forEach((p) => panelLoading(p));
  try {
    update(await api.get("/api/market/live"));
  } catch (exc) {
    Object.values(panels).forEach((p) => panelError(p, `Could not load market data: ${exc.message}`, load));
  }
}

symbolSelect.addEventListener("change", renderChart);
on("market_update", update);

if (!charts.chartAvailable()) {
  panelError(panels.chart, "The chart library did not load; reload the page.", () => location.reload());
}
load();
initOrderTicket();
