// Leaderboard page: strategies ranked by a chosen column, live from strategies_update plus
// the risk figures of /api/analytics (refetched at most every 10 s).
import "./layout.js";
import { api } from "./api.js";
import { byId, el, panelError, panelLoading, panelShow, replaceChildren, td } from "./dom.js";
import * as fmt from "./format.js";
import { on } from "./socket.js";

const ANALYTICS_REFRESH_MS = 10_000;
const SORT_NAMES = { net_pnl: "net P&L", sharpe: "Sharpe ratio", win_rate: "win rate", trades: "fills" };

const panel = byId("leaderboard-panel");
let performance = null; // list from strategies_update / the API
let metrics = {}; // name -> analytics figures
let sortKey = "net_pnl";
let descending = true;

function value(row, key) {
  const v = row[key];
  return typeof v === "number" && Number.isFinite(v) ? v : null;
}

function rows() {
  const list = (performance || []).map((s) => {
    const m = metrics[s.strategy] || {};
    return {
      ...s,
      risk: m,
      sharpe: m.sharpe ?? null,
      max_drawdown_pct: m.max_drawdown_pct ?? null,
      profit_factor: s.profit_factor ?? m.profit_factor ?? null,
    };
  });
  // Strategies without a trade come last and get no rank; undefined figures (no closed trade
  // yet) always sort last, whichever the direction.
  return list.sort((a, b) => {
    const traded = Number((b.trades || 0) > 0) - Number((a.trades || 0) > 0);
    if (traded) return traded;
    const va = value(a, sortKey);
    const vb = value(b, sortKey);
    if (va === null && vb === null) return a.strategy.localeCompare(b.strategy);
    if (va === null) return 1;
    if (vb === null) return -1;
    return descending ? vb - va : va - vb;
  });
}

/** A risk figure with its period and sample size, or what it still needs (as on /analytics). */
function riskCell(m, key, format) {
  if (!m || m.period === undefined) return td(fmt.DASH, "num");
  const needs = key !== "max_drawdown_pct" && (m[key] === null || m[key] === undefined) && m.needs_periods > 0;
  return el("td", { class: needs ? "num needs" : "num" },
    [needs ? fmt.needsText(m) : format(m[key]), el("small", { class: "figure-basis" }, fmt.basisText(m))]);
}

function render() {
  if (performance === null) return;
  const ranked = rows();
  const body = ranked.map((s, i) => el("tr", { class: s.enabled ? null : "is-disabled", dataset: { strategy: s.strategy } }, [
    (s.trades || 0) > 0 ? td(String(i + 1), `num rank rank-${i + 1}`) : td(fmt.DASH, "num rank", "no trades yet: not ranked"),
    el("th", { scope: "row" }, fmt.label(s.strategy)),
    td(fmt.signedMoney(s.net_pnl), `num ${fmt.signClass(s.net_pnl)}`),
    riskCell(s.risk, "sharpe", fmt.num),
    el("td", { class: "num", title: s.wins !== undefined ? `${s.wins} wins, ${s.losses} losses` : null }, [
      fmt.ratioPct(s.win_rate),
      el("small", { class: "figure-basis" }, `${s.round_trips ?? 0} closed round trip${s.round_trips === 1 ? "" : "s"}`),
    ]),
    td(s.trades ?? fmt.DASH, "num"),
    td(fmt.num(s.profit_factor), "num"),
    riskCell(s.risk, "max_drawdown_pct", fmt.pct),
    td(fmt.money(s.volume_usdt, 0), "num"),
    el("td", {}, el("span", { class: s.enabled ? "badge badge-on" : "badge badge-off" }, s.enabled ? "enabled" : "disabled")),
  ]));
  replaceChildren(byId("leaderboard-body"), body);
  for (const th of panel.querySelectorAll("th[data-sort-key]")) {
    const active = th.dataset.sortKey === sortKey;
    if (active) th.setAttribute("aria-sort", descending ? "descending" : "ascending");
    else th.removeAttribute("aria-sort");
    th.classList.toggle("is-sorted", active);
  }
  byId("leaderboard-sorted").textContent = `Sorted by ${SORT_NAMES[sortKey]}, ${descending ? "highest" : "lowest"} first`;
  panelShow(panel, body.length > 0);
}

for (const button of panel.querySelectorAll("button[data-sort]")) {
  button.addEventListener("click", () => {
    if (sortKey === button.dataset.sort) descending = !descending;
    else {
      sortKey = button.dataset.sort;
      descending = true;
    }
    render();
  });
}

let lastAnalytics = 0;
async function loadAnalytics() {
  lastAnalytics = Date.now();
  try {
    const data = await api.get("/api/analytics");
    metrics = data.strategies || {};
    render();
  } catch (exc) {
    // The live columns still work; only Sharpe and drawdown stay blank.
    console.warn("analytics unavailable:", exc.message);
  }
}

async function load() {
  panelLoading(panel);
  try {
    const [perf] = await Promise.all([api.get("/api/strategies/performance"), loadAnalytics()]);
    performance = perf.strategies;
    render();
  } catch (exc) {
    panelError(panel, `Could not load the strategies: ${exc.message}`, load);
  }
}

on("strategies_update", (payload) => {
  performance = payload.strategies;
  render();
  if (Date.now() - lastAnalytics >= ANALYTICS_REFRESH_MS) loadAnalytics();
});

load();
