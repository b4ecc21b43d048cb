// Compact candle charts under the Market page's price chart: every symbol of the chosen exchange
// (its last two hours of closed 1-minute candles from GET /api/candles), refreshed about once a
// minute; clicking one charts that symbol in the big chart.
import { api, query } from "./api.js";
import { byId, el } from "./dom.js";
import * as fmt from "./format.js";
import { DOWN, UP, axisNumber, stepDigits, widen } from "./price_chart.js";
import { on } from "./socket.js";

const LWC = window.LightweightCharts;
const exchangeSelect = byId("chart-exchange");
const symbolSelect = byId("market-symbol");

const MINI_CANDLES = 120;
const MINI_REFRESH_MS = 60_000; // wall clock: the strip is an overview, the big chart is the live one
const minis = new Map(); // symbol -> {chart, series, node}
let miniExchange = null;
let miniLoadedAt = 0;

function miniFor(symbol) {
  let mini = minis.get(symbol);
  if (mini) return mini;
  const plot = el("div", { class: "mini-plot" });
  const node = el("button", { type: "button", class: "mini-chart", dataset: { symbol }, title: `Chart ${symbol}`,
    on: { click: () => { symbolSelect.value = symbol; symbolSelect.dispatchEvent(new Event("change")); } } },
  [el("span", { class: "mini-label" }, symbol), el("span", { class: "mini-last" }, ""), plot]);
  byId("mini-charts").appendChild(node);
  const small = LWC.createChart(plot, {
    autoSize: true, handleScroll: false, handleScale: false,
    layout: { background: { type: "solid", color: "transparent" }, textColor: "#8d9ab3", attributionLogo: false, fontSize: 10 },
    grid: { vertLines: { visible: false }, horzLines: { visible: false } },
    rightPriceScale: { visible: false }, timeScale: { visible: false }, crosshair: { mode: LWC.CrosshairMode.Hidden },
  });
  const candles = small.addSeries(LWC.CandlestickSeries, { upColor: UP, downColor: DOWN, borderVisible: false,
    wickUpColor: UP, wickDownColor: DOWN, priceLineVisible: false, lastValueVisible: false,
    autoscaleInfoProvider: (original) => widen(original(), (mid) => mid * 0.002) });
  mini = { chart: small, series: candles, node };
  minis.set(symbol, mini);
  return mini;
}

async function loadMinis(force = false) {
  const exchange = exchangeSelect.value;
  if (!force && exchange === miniExchange && Date.now() - miniLoadedAt < MINI_REFRESH_MS) return;
  if (exchange !== miniExchange) {
    for (const mini of minis.values()) { mini.chart.remove(); mini.node.remove(); }
    minis.clear();
  }
  miniExchange = exchange;
  miniLoadedAt = Date.now();
  const symbols = [...symbolSelect.options].map((o) => o.value);
  for (const symbol of symbols) {
    try {
      const answer = await api.get(`/api/candles${query({ exchange, symbol, limit: MINI_CANDLES })}`);
      if (exchange !== exchangeSelect.value) return;
      const mini = miniFor(symbol);
      mini.series.setData(answer.candles.map(({ time, open, high, low, close }) => ({ time, open, high, low, close })));
      mini.chart.timeScale().fitContent();
      const last = answer.candles[answer.candles.length - 1];
      mini.node.querySelector(".mini-last").textContent = last ? axisNumber(last.close, stepDigits(answer.price_step)) : fmt.DASH;
      mini.node.dataset.candles = String(mini.series.data().length);
    } catch (exc) {
      if (!(exc && exc.status === 404)) console.warn(`compact chart for ${symbol} did not load:`, exc);
    }
  }
  markCurrent();
}

function markCurrent() {
  for (const mini of minis.values()) mini.node.classList.toggle("is-current", mini.node.dataset.symbol === symbolSelect.value);
}

if (byId("mini-charts") && LWC && typeof LWC.createChart === "function") {
  exchangeSelect.addEventListener("change", () => loadMinis(true));
  symbolSelect.addEventListener("change", markCurrent);
  on("market_update", () => loadMinis());
  loadMinis(true);
}
