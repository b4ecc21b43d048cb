// The Market page's price chart (TradingView Lightweight Charts): the engine's closed 1-minute
// candles for one market since the start of the data (older pages load as the user scrolls
// back), our fills as markers coloured by strategy with a tooltip, and the deciding strategies'
// indicators as the server computed them with the strategies' own code (GET /api/candles):
// momentum's EMAs on the price pane and its RSI filter below, stat_arb's spread z-score with its
// bands, news's decayed score with the headlines as markers. Followed live on market_update.
import { api, query } from "./api.js";
import { byId, el, panelError, panelLoading, panelShow, replaceChildren } from "./dom.js";
import * as fmt from "./format.js";
import { on } from "./socket.js";

const LWC = window.LightweightCharts;
const PAGE = 500;
const CANDLE_SECONDS = 60;
export const STRATEGY_COLORS = {
  arbitrage: "#f0b429", momentum: "#4dabf7", news: "#da77f2", stat_arb: "#38d9a9",
};
const OTHER_COLOR = "#ced4da";
export const UP = "#2fb380";
export const DOWN = "#e5534b";

const panel = byId("candle-panel");
const box = byId("candle-chart");
const exchangeSelect = byId("chart-exchange");
const symbolSelect = byId("market-symbol");
const tooltip = byId("chart-tooltip");
const legend = byId("chart-legend");

let chart = null;
let series = {};
let markerLayers = {};
let store = null;
let loading = false;
let generation = 0; // bumps when the market changes: answers for the old one are dropped

function emptyStore(exchange, symbol) {
  return {
    exchange, symbol, candles: new Map(), lines: {}, fills: new Map(), headlines: new Map(),
    meta: {}, hasMore: false, firstTime: null, priceStep: null,
  };
}

/** Digits for a step such as 0.01 -> 2, 0.5 -> 1, 1 -> 0. */
export function stepDigits(step) {
  if (!(step > 0)) return 2;
  return Math.max(0, Math.min(10, Math.ceil(-Math.log10(step) - 1e-9)));
}

/** A number at fixed digits with thousands separators, never "−0.00" (a true minus sign otherwise). */
export function axisNumber(value, digits) {
  if (!Number.isFinite(value)) return "";
  if (Math.abs(value) < 0.5 * 10 ** -digits) value = 0;
  const text = Math.abs(value).toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits });
  return value < 0 ? `−${text}` : text;
}

function formatOf(digits, minMove) {
  return { type: "custom", minMove, formatter: (value) => axisNumber(value, digits) };
}

function colorOf(strategy) {
  return STRATEGY_COLORS[strategy] || OTHER_COLOR;
}

function sorted(map) {
  return [...map.entries()].sort((a, b) => a[0] - b[0]).map(([, value]) => value);
}

// ----- building the chart -------------------------------------------------------------------

function buildChart() {
  if (chart) chart.remove();
  series = {};
  markerLayers = {};
  chart = LWC.createChart(box, {
    autoSize: true,
    layout: { background: { type: "solid", color: "transparent" }, textColor: "#c9d1d9", attributionLogo: false,
      panes: { separatorColor: "#30363d" } },
    grid: { vertLines: { color: "#21262d" }, horzLines: { color: "#21262d" } },
    rightPriceScale: { borderColor: "#30363d", minimumWidth: 72 },
    timeScale: { borderColor: "#30363d", timeVisible: true, secondsVisible: false, rightOffset: 4 },
    crosshair: { mode: LWC.CrosshairMode.Normal },
    localization: { timeFormatter: (time) => fmt.dateTime(time * 1000).replace(":00 UTC", " UTC") },
  });
  chart.timeScale().subscribeVisibleLogicalRangeChange(onRangeChange);
  chart.subscribeCrosshairMove(onCrosshair);
}

function ensurePriceSeries() {
  if (series.candles) return;
  const digits = stepDigits(store.priceStep);
  const minMove = store.priceStep > 0 ? store.priceStep : 0.01;
  series.candles = chart.addSeries(LWC.CandlestickSeries, {
    upColor: UP, downColor: DOWN, borderVisible: false, wickUpColor: UP, wickDownColor: DOWN,
    priceFormat: formatOf(digits, minMove),
    // A sensible minimum range: at least 0.2 % of the price (or 20 price steps) top to bottom.
    autoscaleInfoProvider: (original) => widen(original(), (mid) => Math.max(mid * 0.002, 20 * minMove)),
  });
  series.volume = chart.addSeries(LWC.HistogramSeries, {
    priceScaleId: "volume", color: "rgba(139, 148, 158, 0.35)", priceFormat: formatOf(2, 0.01),
    lastValueVisible: false, priceLineVisible: false, title: "",
  });
  chart.priceScale("volume").applyOptions({ scaleMargins: { top: 0.82, bottom: 0 }, visible: false });
  markerLayers.fills = LWC.createSeriesMarkers(series.candles, []);
}

/** An autoscale range widened to at least minSpan(mid) top to bottom (a sensible minimum range). */
export function widen(range, minSpan) {
  if (!range || !range.priceRange) return range;
  const { minValue, maxValue } = range.priceRange;
  const mid = (minValue + maxValue) / 2;
  const span = Math.max(maxValue - minValue, minSpan(Math.abs(mid)));
  return { ...range, priceRange: { minValue: mid - span / 2, maxValue: mid + span / 2 } };
}

function fixedRange(low, high) {
  return (original) => {
    const range = original();
    if (!range || !range.priceRange) return { priceRange: { minValue: low, maxValue: high } };
    return { ...range, priceRange: { minValue: Math.min(low, range.priceRange.minValue), maxValue: Math.max(high, range.priceRange.maxValue) } };
  };
}

function line(name, pane, options) {
  if (!series[name]) {
    series[name] = chart.addSeries(LWC.LineSeries, { lineWidth: 2, priceLineVisible: false, lastValueVisible: true,
      crosshairMarkerVisible: false, ...options }, pane);
  }
  return series[name];
}

function ensureIndicatorSeries() {
  const meta = store.meta;
  const digits = stepDigits(store.priceStep);
  const minMove = store.priceStep > 0 ? store.priceStep : 0.01;
  let pane = 1;
  if (meta.momentum) {
    const m = meta.momentum;
    line("emaFast", 0, { color: "#ffd43b", lineWidth: 1, title: `EMA${m.fast}`, priceFormat: formatOf(digits, minMove) });
    line("emaSlow", 0, { color: "#74c0fc", lineWidth: 1, title: `EMA${m.slow}`, priceFormat: formatOf(digits, minMove) });
    if (!series.rsi) {
      line("rsi", pane, { color: "#b197fc", title: `RSI${m.rsi_period}`, priceFormat: formatOf(1, 0.1),
        autoscaleInfoProvider: () => ({ priceRange: { minValue: 0, maxValue: 100 } }) });
      series.rsi.priceScale().applyOptions({ scaleMargins: { top: 0.08, bottom: 0.08 } });
      series.rsi.createPriceLine({ price: m.rsi_overbought, color: DOWN, lineStyle: LWC.LineStyle.Dashed, lineWidth: 1,
        axisLabelVisible: true, title: "no entry above" });
    }
    pane += 1;
  }
  if (meta.stat_arb) {
    const s = meta.stat_arb;
    if (!series.z) {
      line("z", pane, { color: "#38d9a9", title: `z ${s.pair}`, priceFormat: formatOf(2, 0.01),
        autoscaleInfoProvider: fixedRange(-s.stop_z - 0.5, s.stop_z + 0.5) });
      const bands = [[s.entry_z, "entry", UP], [-s.entry_z, "entry", UP], [s.exit_z, "exit", "#8b949e"],
        [-s.exit_z, "exit", "#8b949e"], [s.stop_z, "stop", DOWN], [-s.stop_z, "stop", DOWN]];
      for (const [price, title, color] of bands) {
        series.z.createPriceLine({ price, color, lineStyle: LWC.LineStyle.Dashed, lineWidth: 1, axisLabelVisible: false, title });
      }
    }
    pane += 1;
  }
  if (meta.news) {
    const n = meta.news;
    if (!series.news) {
      line("news", pane, { color: "#da77f2", title: "news score", priceFormat: formatOf(2, 0.01),
        autoscaleInfoProvider: fixedRange(Math.min(n.exit_score, -n.entry_score) * 1.2, n.entry_score * 1.2) });
      series.news.createPriceLine({ price: n.entry_score, color: UP, lineStyle: LWC.LineStyle.Dashed, lineWidth: 1, axisLabelVisible: false, title: "entry" });
      series.news.createPriceLine({ price: n.exit_score, color: DOWN, lineStyle: LWC.LineStyle.Dashed, lineWidth: 1, axisLabelVisible: false, title: "exit" });
      markerLayers.headlines = LWC.createSeriesMarkers(series.news, []);
    }
  }
}

function fitPanes() {
  // Stretch factors, not pixels: the price pane three times the height of each indicator pane.
  const panes = chart.panes();
  panes[0].setStretchFactor(3);
  for (let i = 1; i < panes.length; i += 1) panes[i].setStretchFactor(1);
}

function showRecent() {
  const count = store.candles.size;
  const bars = Math.max(40, Math.min(150, Math.round(box.clientWidth / 7)));
  chart.timeScale().setVisibleLogicalRange({ from: Math.max(0, count - bars), to: count + 3 });
}

// ----- data ---------------------------------------------------------------------------------

function merge(answer) {
  store.priceStep = answer.price_step;
  store.firstTime = answer.first_time;
  for (const c of answer.candles) store.candles.set(c.time, c);
  for (const m of answer.markers) store.fills.set(m.id, m);
  const ind = answer.indicators || {};
  const put = (name, times, values) => {
    if (!store.lines[name]) store.lines[name] = new Map();
    times.forEach((time, i) => {
      const value = values[i];
      if (value !== null && value !== undefined && Number.isFinite(value)) store.lines[name].set(time, { time, value });
    });
  };
  if (ind.momentum) {
    store.meta.momentum = ind.momentum;
    put("emaFast", ind.momentum.times, ind.momentum.ema_fast);
    put("emaSlow", ind.momentum.times, ind.momentum.ema_slow);
    put("rsi", ind.momentum.times, ind.momentum.rsi);
  }
  if (ind.stat_arb) {
    store.meta.stat_arb = ind.stat_arb;
    put("z", ind.stat_arb.times, ind.stat_arb.z);
  }
  if (ind.news) {
    store.meta.news = ind.news;
    put("news", ind.news.times, ind.news.scores);
    for (const h of ind.news.headlines) store.headlines.set(`${h.ts}|${h.title}`, h);
  }
}

function render() {
  if (!store.candles.size) {
    panelShow(panel, false);
    return;
  }
  panelShow(panel, true);
  ensurePriceSeries();
  const panesBefore = chart.panes().length;
  ensureIndicatorSeries();
  if (chart.panes().length !== panesBefore) fitPanes();
  const candles = sorted(store.candles);
  series.candles.setData(candles.map(({ time, open, high, low, close }) => ({ time, open, high, low, close })));
  series.volume.setData(candles.map((c) => ({ time: c.time, value: c.volume, color: c.close >= c.open ? "rgba(47, 179, 128, 0.3)" : "rgba(229, 83, 75, 0.3)" })));
  for (const name of ["emaFast", "emaSlow", "rsi", "z", "news"]) {
    if (series[name] && store.lines[name]) series[name].setData(sorted(store.lines[name]));
  }
  const fills = [...store.fills.values()].sort((a, b) => a.time - b.time || a.ts.localeCompare(b.ts));
  markerLayers.fills.setMarkers(fills.map((m) => ({
    time: m.time, id: m.id, color: colorOf(m.strategy),
    position: m.side === "buy" ? "belowBar" : "aboveBar", shape: m.side === "buy" ? "arrowUp" : "arrowDown",
  })));
  if (markerLayers.headlines) {
    const headlines = [...store.headlines.values()].sort((a, b) => a.time - b.time);
    markerLayers.headlines.setMarkers(headlines.map((h) => ({
      time: h.time, position: "inBar", shape: "circle", color: h.score >= 0 ? UP : DOWN, id: `${h.ts}|${h.title}`,
    })));
  }
  renderKey(fills);
  renderNote(candles);
  // What is drawn, for the page's tests and anyone inspecting it (the canvas holds no DOM).
  // Read back from the chart library itself, so they count what it holds, not what was meant.
  box.dataset.candles = String(series.candles.data().length);
  box.dataset.fills = String(markerLayers.fills.markers().length);
  box.dataset.headlines = String(markerLayers.headlines ? markerLayers.headlines.markers().length : 0);
  box.dataset.series = Object.keys(series).filter((name) => series[name].data().length > 0).join(" ");
}

function renderKey(fills) {
  const used = [...new Set(fills.map((m) => m.strategy))].sort();
  const items = used.map((name) => el("li", { class: "chart-key-item", dataset: { strategy: name } }, [
    el("span", { class: `chart-swatch swatch-${name in STRATEGY_COLORS ? name : "other"}`, "aria-hidden": "true" }),
    `${fmt.label(name)} (${fills.filter((m) => m.strategy === name).length} fills)`,
  ]));
  if (!items.length) items.push(el("li", { class: "chart-key-item muted" }, "No fills of ours in these candles yet."));
  replaceChildren(byId("chart-key"), items);
}

function renderNote(candles) {
  const parts = [`Closed 1-minute candles of ${store.symbol} on ${store.exchange}, ${candles.length} loaded from ${fmt.dateTime(candles[0].time * 1000)}` +
    (store.hasMore ? " (scroll left for older ones)" : " (the start of the data)") + ", market clock.",
  "▲ buy / ▼ sell: our fills, coloured by strategy; point at one for its quantity, price, P&L and reason."];
  const m = store.meta.momentum;
  if (m) parts.push(`Momentum's EMA${m.fast}/EMA${m.slow} and RSI${m.rsi_period} (no entry above ${m.rsi_overbought}) as each decision read them, over the ${m.window} closes up to that candle${m.enabled ? "" : " (momentum is switched off)"}.`);
  const s = store.meta.stat_arb;
  if (s) parts.push(`Stat arb: z of ${s.pair} (beta ${s.beta.toFixed(4)}, p-value ${s.p_value.toFixed(4)}), entry at |z| ≥ ${s.entry_z}, exit at ${s.exit_z}, stop at ${s.stop_z}; the current model over every candle.`);
  const n = store.meta.news;
  if (n) parts.push(`News: the decayed headline score (half-life ${n.half_life_minutes} min), entry at ${n.entry_score}, exit at ${n.exit_score}; dots are headlines the strategy still holds.`);
  byId("candle-note").textContent = parts.join(" ");
}

async function loadPage(params) {
  const mine = generation;
  const answer = await api.get(`/api/candles${query({ exchange: store.exchange, symbol: store.symbol, limit: PAGE, ...params })}`);
  if (mine !== generation) return null;
  return answer;
}

async function reset() {
  generation += 1;
  store = emptyStore(exchangeSelect.value, symbolSelect.value);
  delete box.dataset.candles;
  delete box.dataset.fills;
  delete box.dataset.series;
  loading = true;
  panelLoading(panel);
  try {
    const answer = await loadPage({});
    if (!answer) return;
    buildChart();
    store.hasMore = answer.has_more;
    merge(answer);
    render();
    // Once the panel is shown and the chart has its size: the last ~2 hours, the price pane tallest.
    if (store.candles.size) requestAnimationFrame(() => { fitPanes(); showRecent(); });
  } catch (exc) {
    panelError(panel, `Could not load the chart: ${exc.message}`, reset);
  } finally {
    loading = false;
  }
}

async function loadOlder() {
  if (loading || !store || !store.hasMore || !store.candles.size) return;
  loading = true;
  try {
    const oldest = Math.min(...store.candles.keys());
    const answer = await loadPage({ before: oldest });
    if (!answer) return;
    store.hasMore = answer.has_more;
    merge(answer);
    render();
  } catch (exc) {
    console.warn("older candles did not load:", exc);
  } finally {
    loading = false;
  }
}

async function loadNewer() {
  if (loading || !store || !store.candles.size) return;
  loading = true;
  try {
    let answer;
    do {
      const newest = Math.max(...store.candles.keys());
      answer = await loadPage({ after: newest });
      if (!answer) return;
      merge(answer);
    } while (answer.candles.length >= PAGE);
    render();
  } catch (exc) {
    console.warn("new candles did not load:", exc);
  } finally {
    loading = false;
  }
}

function onRangeChange(range) {
  if (range && range.from < 20) loadOlder();
}

// ----- live ---------------------------------------------------------------------------------

on("market_update", (market) => {
  if (!store || !store.candles.size || !market || !market.as_of) return;
  const now = Date.parse(market.as_of) / 1000;
  const newest = Math.max(...store.candles.keys());
  // The candle after the newest one has closed once its minute is over.
  if (now >= newest + 2 * CANDLE_SECONDS) loadNewer();
});

// ----- tooltip ------------------------------------------------------------------------------

function onCrosshair(param) {
  if (!param || param.time === undefined || !param.point || !store) {
    tooltip.hidden = true;
    return;
  }
  const candle = store.candles.get(param.time);
  const digits = stepDigits(store.priceStep);
  if (candle) {
    legend.textContent = `${fmt.dateTime(candle.time * 1000)}  O ${axisNumber(candle.open, digits)}  H ${axisNumber(candle.high, digits)}  L ${axisNumber(candle.low, digits)}  C ${axisNumber(candle.close, digits)}  vol ${fmt.qty(candle.volume)}`;
  }
  const fills = [...store.fills.values()].filter((m) => m.time === param.time);
  const headlines = [...store.headlines.values()].filter((h) => h.time === param.time);
  if (!fills.length && !headlines.length) {
    tooltip.hidden = true;
    return;
  }
  const rows = fills.map((m) => el("div", { class: "tip-fill", dataset: { strategy: m.strategy } }, [
    el("strong", { class: `tip-side side-${m.side}` }, `${fmt.label(m.strategy)} ${m.side}`),
    ` ${fmt.qty(m.qty)} at ${axisNumber(m.price, digits)}`,
    m.realized_pnl ? el("span", { class: `tip-pnl ${fmt.signClass(m.realized_pnl)}` }, ` P&L ${fmt.signedMoney(m.realized_pnl)} USDT`) : null,
    el("span", { class: "tip-time" }, ` · ${fmt.time(m.ts)} UTC`),
    el("div", { class: "tip-reason" }, m.reason || "(no reason recorded)"),
  ]));
  for (const h of headlines) {
    rows.push(el("div", { class: "tip-headline" }, [
      el("strong", { class: fmt.signClass(h.score) }, `News ${h.score >= 0 ? "+" : "−"}${Math.abs(h.score).toFixed(2)}`),
      ` ${h.title}`,
    ]));
  }
  replaceChildren(tooltip, rows.slice(0, 6));
  if (rows.length > 6) tooltip.appendChild(el("div", { class: "muted" }, `and ${rows.length - 6} more`));
  tooltip.hidden = false;
  const width = box.clientWidth;
  const left = Math.min(Math.max(0, param.point.x + 16), Math.max(0, width - tooltip.offsetWidth - 4));
  tooltip.style.left = `${left}px`;
  tooltip.style.top = `${Math.max(0, param.point.y - tooltip.offsetHeight - 12)}px`;
}

// ----- start --------------------------------------------------------------------------------

if (!panel) {
  // not on this page
} else if (!LWC || typeof LWC.createChart !== "function") {
  panelError(panel, "The chart library did not load; reload the page.", () => location.reload());
} else {
  exchangeSelect.addEventListener("change", reset);
  symbolSelect.addEventListener("change", reset);
  reset();
}
