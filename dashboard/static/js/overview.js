// Overview page: portfolio figures, bot controls, strategy cards, live prices, open positions,
// the latest trades (growing live on trade_executed) and transfers between exchanges.
import { currentStatus, updateStatus } from "./layout.js";
import { api } from "./api.js";
import { byId, el, labelCells, panelError, panelLoading, panelShow, replaceChildren, setText, td } from "./dom.js";
import * as fmt from "./format.js";
import { confirmAction, showError, showSuccess } from "./notify.js";
import { on } from "./socket.js";
import { loadTransfers, transfersMaybeChanged } from "./transfers.js";
import { closeButton, exitText, initOrderTicket } from "./order_ticket.js";

const MAX_TRADES = 50;

const panels = {
  portfolio: byId("portfolio-panel"),
  strategies: byId("strategies-panel"),
  prices: byId("prices-panel"),
  positions: byId("positions-panel"),
  trades: byId("trades-panel"),
};

// ---- portfolio figures and open positions -------------------------------------------------

function renderPortfolio(p) {
  if (!p || typeof p !== "object" || p.equity === undefined) return;
  setText(byId("kpi-equity"), fmt.money(p.equity));
  setText(byId("kpi-initial"), `${fmt.money(p.initial_equity)} USDT`);
  setText(byId("kpi-cash"), fmt.money(p.cash_usdt));
  setText(byId("kpi-pnl-today"), fmt.signedMoney(p.pnl_today), fmt.signClass(p.pnl_today));
  setText(byId("kpi-pnl-total"), fmt.signedMoney(p.total_pnl), fmt.signClass(p.total_pnl));
  const totalPct = p.initial_equity ? (p.total_pnl / p.initial_equity) * 100 : null;
  setText(byId("kpi-pnl-total-pct"), fmt.pct(totalPct, 2, true), fmt.signClass(totalPct));
  setText(byId("kpi-realized"), fmt.signedMoney(p.realized_pnl), fmt.signClass(p.realized_pnl));
  setText(byId("kpi-unrealized"), fmt.signedMoney(p.unrealized_pnl), fmt.signClass(p.unrealized_pnl));
  setText(byId("kpi-fees"), `${fmt.money(p.fees_usdt)} USDT`);
  setText(byId("kpi-strategies-pnl"), fmt.signedMoney(p.strategies_net_pnl), fmt.signClass(p.strategies_net_pnl));
  setText(byId("kpi-holdings-pnl"), fmt.signedMoney(p.holdings_pnl), fmt.signClass(p.holdings_pnl));
  // The drawdown the kill switch watches (risk.drawdown_basis), with the other one beside it.
  const trading = p.drawdown_basis !== "equity";
  const shown = trading ? p.trading_drawdown_pct : p.drawdown_pct;
  setText(byId("kpi-drawdown"), fmt.pct(shown), shown > 0 ? "neg" : "zero");
  setText(byId("kpi-drawdown-basis"), trading
    ? `trading equity below its peak (kill switch basis); equity: ${fmt.pct(p.drawdown_pct)}`
    : `equity below its peak (kill switch basis); trading equity: ${fmt.pct(p.trading_drawdown_pct)}`);
  panelShow(panels.portfolio, true);
  renderPositions(Array.isArray(p.positions) ? p.positions : []);
}

function renderPositions(positions) {
  const rows = positions.map((pos) => el("tr", {}, [
    td(fmt.label(pos.strategy)),
    td(pos.symbol),
    el("td", {}, el("span", { class: `badge badge-${pos.side === "short" ? "sell" : "buy"}` }, pos.side)),
    td(fmt.qty(pos.qty), "num"),
    td(fmt.price(pos.avg_cost), "num"),
    td(fmt.price(pos.mark), "num"),
    td(fmt.money(pos.value_usdt), "num"),
    td(fmt.signedMoney(pos.unrealized_pnl), `num ${fmt.signClass(pos.unrealized_pnl)}`),
    td(Object.keys(pos.by_exchange || {}).join(", ") || fmt.DASH),
    td(fmt.stamp(pos.opened_at), "nowrap", `${fmt.dateTime(pos.opened_at)} (market time)`),
    td(exitText(pos.strategy, pos.asset) || fmt.DASH, "num nowrap position-exits"),
    el("td", {}, closeButton(pos)),
  ]));
  replaceChildren(byId("positions-body"), rows);
  labelCells(byId("positions-body"));
  panelShow(panels.positions, rows.length > 0);
}

async function loadPortfolio() {
  panelLoading(panels.portfolio);
  panelLoading(panels.positions);
  try {
    renderPortfolio(await api.get("/api/portfolio"));
  } catch (exc) {
    const message = `Could not load the portfolio: ${exc.message}`;
    panelError(panels.portfolio, message, loadPortfolio);
    panelError(panels.positions, message, loadPortfolio);
  }
}

// ---- latest trades --------------------------------------------------------------------------

const trades = new Map(); // id -> trade

/** The trades of a trades payload ({"trades": [...], "total"}: REST, trades_update, trade_executed). */
function tradesFrom(payload) {
  return payload && Array.isArray(payload.trades) ? payload.trades : [];
}
const seenOnce = new Set();

function addTrades(list, fresh = false) {
  // Highlight only trades that arrive after the table first filled, not the first batch.
  const highlight = fresh && trades.size > 0;
  for (const trade of list) {
    if (!trade || trade.id === undefined) continue;
    if (highlight && !trades.has(trade.id)) trade.__fresh = true;
    trades.set(trade.id, { ...trades.get(trade.id), ...trade });
  }
  const ordered = [...trades.values()].sort((a, b) => (b.seq || 0) - (a.seq || 0));
  for (const stale of ordered.slice(MAX_TRADES)) {
    trades.delete(stale.id);
    seenOnce.delete(stale.id);
  }
  renderTrades(ordered.slice(0, MAX_TRADES));
}

function tradeRow(t) {
  const fresh = t.__fresh && !seenOnce.has(t.id);
  seenOnce.add(t.id);
  const fee = `${fmt.assetAmount(t.fee, t.fee_asset)} ${t.fee_asset || ""}`.trim();
  return el("tr", { class: fresh ? "row-new" : null, dataset: { tradeId: String(t.id) } }, [
    td(fmt.stamp(t.ts), "nowrap", `${fmt.dateTime(t.ts)} (market time)`),
    td(fmt.label(t.strategy), null, t.kind ? `${t.strategy} (${t.kind})` : null),
    td(t.symbol, "nowrap"),
    td(t.exchange),
    el("td", {}, el("span", { class: `badge badge-${t.side === "sell" ? "sell" : "buy"}` }, t.side)),
    td(fmt.qty(t.qty), "num"),
    td(fmt.price(t.price), "num"),
    td(fee, "num nowrap"),
    td(t.realized_pnl ? fmt.signedMoney(t.realized_pnl) : fmt.DASH, `num ${fmt.signClass(t.realized_pnl)}`),
    td(t.reason || fmt.DASH, "reason", t.reason || null),
  ]);
}

function renderTrades(list) {
  replaceChildren(byId("trades-body"), list.map(tradeRow));
  labelCells(byId("trades-body"));
  byId("trades-count").textContent = list.length ? `showing the latest ${list.length}` : "";
  panelShow(panels.trades, list.length > 0);
}

async function loadTrades() {
  panelLoading(panels.trades);
  try {
    const data = await api.get(`/api/trades?limit=${MAX_TRADES}`);
    addTrades(tradesFrom(data));
  } catch (exc) {
    panelError(panels.trades, `Could not load the trades: ${exc.message}`, loadTrades);
  }
}

// ---- strategies -----------------------------------------------------------------------------

const cards = new Map(); // name -> {root, fields, toggle, pending}

function statBox(title, key) {
  const value = el("dd", {}, fmt.DASH);
  return { node: el("div", { class: "stat" }, [el("dt", {}, title), value]), key, value };
}

function makeCard(name) {
  const toggle = el("input", { type: "checkbox", role: "switch", class: "switch", id: `toggle-${name}` });
  const switchText = el("span", { class: "switch-text" }, "Enabled");
  const stats = [
    statBox("Fills", "trades"), statBox("Win rate", "win_rate"), statBox("Open", "open_positions"),
    statBox("Realized", "realized_pnl"), statBox("Unrealized", "unrealized_pnl"), statBox("Fees", "fees_usdt"),
  ];
  const net = el("p", { class: "card-pnl" }, fmt.DASH);
  const counters = el("p", { class: "card-counters" });
  const problem = el("p", { class: "card-problem", hidden: true });
  const root = el("article", { class: "strategy-card", dataset: { strategy: name } }, [
    el("header", { class: "card-head" }, [
      el("h3", {}, fmt.label(name)),
      el("label", { class: "switch-label", for: `toggle-${name}` }, [toggle, switchText]),
    ]),
    net,
    el("dl", { class: "stats" }, stats.map((s) => s.node)),
    counters,
    problem,
  ]);
  const card = { root, toggle, switchText, net, stats, counters, problem, pending: false };
  toggle.addEventListener("change", () => toggleStrategy(name, card));
  return card;
}

function showEnabled(card, enabled) {
  card.toggle.checked = enabled;
  card.switchText.textContent = enabled ? "Enabled" : "Disabled";
  card.root.classList.toggle("is-disabled", !enabled);
}

function renderCard(card, s) {
  if (!card.pending) showEnabled(card, Boolean(s.enabled));
  card.toggle.setAttribute("aria-label", `${fmt.label(s.strategy)} enabled`);
  setText(card.net, `${fmt.signedMoney(s.net_pnl)} USDT net`, fmt.signClass(s.net_pnl));
  for (const stat of card.stats) {
    const v = s[stat.key];
    if (stat.key === "win_rate") {
      // per closed round trip, with how many there are (a rate of 2 says little)
      setText(stat.value, v === null || v === undefined ? fmt.DASH : `${fmt.ratioPct(v)} of ${s.round_trips ?? 0}`);
      stat.value.title = `${s.wins ?? 0} wins, ${s.losses ?? 0} losses over ${s.round_trips ?? 0} closed round trips, net of fees`;
    }
    else if (stat.key === "trades" || stat.key === "open_positions") setText(stat.value, v ?? fmt.DASH);
    else if (stat.key === "fees_usdt") setText(stat.value, fmt.money(v));
    else setText(stat.value, fmt.signedMoney(v), fmt.signClass(v));
  }
  card.counters.textContent = `${s.opportunities ?? 0} opportunities · ${s.executed ?? 0} executed · ${s.rejected_total ?? 0} rejected`;
  const problem = s.last_error ? `Last error: ${s.last_error}` : s.last_rejection ? `Last rejection: ${s.last_rejection}` : "";
  card.problem.textContent = problem;
  card.problem.classList.toggle("is-error", Boolean(s.last_error));
  card.problem.hidden = !problem;
}

function renderStrategies(list) {
  const box = byId("strategy-cards");
  const names = new Set();
  for (const s of list) {
    if (!s || !s.strategy) continue;
    names.add(s.strategy);
    let card = cards.get(s.strategy);
    if (!card) {
      card = makeCard(s.strategy);
      cards.set(s.strategy, card);
      box.appendChild(card.root);
    }
    renderCard(card, s);
  }
  for (const [name, card] of cards) {
    if (!names.has(name)) {
      card.root.remove();
      cards.delete(name);
    }
  }
  panelShow(panels.strategies, cards.size > 0);
}

async function toggleStrategy(name, card) {
  const wanted = card.toggle.checked;
  card.pending = true;
  card.toggle.disabled = true;
  try {
    const result = await api.post(`/api/strategies/${encodeURIComponent(name)}/toggle`, {});
    const enabled = typeof result.enabled === "boolean" ? result.enabled : wanted;
    showEnabled(card, enabled);
    showSuccess(`${fmt.label(name)} ${enabled ? "enabled" : "disabled"}.`);
  } catch (exc) {
    showEnabled(card, !wanted);
    showError(`Could not switch ${fmt.label(name)}: ${exc.message}`);
  } finally {
    card.pending = false;
    card.toggle.disabled = false;
  }
}

async function loadStrategies() {
  panelLoading(panels.strategies);
  try {
    renderStrategies((await api.get("/api/strategies/performance")).strategies);
  } catch (exc) {
    panelError(panels.strategies, `Could not load the strategies: ${exc.message}`, loadStrategies);
  }
}

// ---- live prices: the best bid and the best ask across exchanges, each with its exchange -----
// They may sit on different exchanges, so each names its own, and the gap between them is
// shown (positive = one exchange bids above another's ask, before fees): a bid above an ask is
// never under one plain "Bid / Ask" header.

/** Per symbol: the highest bid and the lowest ask, each with its exchange, and the mean change. */
export function bestQuotes(quotes) {
  const bySymbol = new Map();
  for (const q of quotes) {
    const row = bySymbol.get(q.symbol) || { symbol: q.symbol, bid: null, ask: null, changes: [] };
    if (row.bid === null || q.bid > row.bid.price) row.bid = { price: q.bid, exchange: q.exchange };
    if (row.ask === null || q.ask < row.ask.price) row.ask = { price: q.ask, exchange: q.exchange };
    if (Number.isFinite(q.change_24h_pct)) row.changes.push(q.change_24h_pct);
    bySymbol.set(q.symbol, row);
  }
  return [...bySymbol.values()];
}

function priceWithVenue(side) {
  return el("td", { class: "num nowrap" }, [
    el("span", {}, fmt.price(side.price)), " ", el("span", { class: "venue" }, side.exchange),
  ]);
}

function renderPrices(market) {
  const quotes = market && Array.isArray(market.quotes) ? market.quotes : [];
  const rows = bestQuotes(quotes).map((r) => {
    const change = r.changes.length ? r.changes.reduce((a, b) => a + b, 0) / r.changes.length : null;
    const gap = ((r.bid.price - r.ask.price) / r.ask.price) * 100;
    return el("tr", { dataset: { symbol: r.symbol } }, [
      td(r.symbol, "nowrap"),
      priceWithVenue(r.bid),
      priceWithVenue(r.ask),
      td(fmt.pct(gap, 3, true), `num ${gap > 0 ? "pos strong" : "muted"}`),
      td(fmt.pct(change, 2, true), `num ${fmt.signClass(change)}`),
    ]);
  });
  replaceChildren(byId("prices-body"), rows);
  const changeHead = byId("prices-body").closest("table").querySelector('th[data-col="change"]');
  if (changeHead && market) changeHead.textContent = fmt.changeLabel(market.change_window_seconds);
  panelShow(panels.prices, rows.length > 0);
}

async function loadPrices() {
  panelLoading(panels.prices);
  try {
    renderPrices(await api.get("/api/market/live"));
  } catch (exc) {
    panelError(panels.prices, `Could not load prices: ${exc.message}`, loadPrices);
  }
}

// ---- bot controls ---------------------------------------------------------------------------

const controls = {
  start: byId("bot-start"),
  pause: byId("bot-pause"),
  stop: byId("bot-stop"),
};
let controlBusy = false;

function renderControls(status) {
  const state = (status && status.state) || "unknown";
  byId("bot-state-text").textContent = state;
  byId("bot-controls").dataset.state = state;
  const unknown = state === "unknown"; // no contact with the bot: nothing to control
  controls.start.disabled = controlBusy || unknown || state === "running";
  controls.pause.disabled = controlBusy || unknown || state !== "running";
  controls.stop.disabled = controlBusy || unknown || state === "stopped";
}

const QUESTIONS = {
  pause: ["Pause trading? Prices keep updating, but no strategy opens or closes a position until you start again.", "Pause"],
  stop: ["Stop the bot? The tick loop halts and the market freezes until you start it again.", "Stop"],
};

async function botAction(action) {
  if (QUESTIONS[action]) {
    const [question, confirmLabel] = QUESTIONS[action];
    const ok = await confirmAction(question, { title: `${confirmLabel} the bot`, confirmLabel, danger: action === "stop" });
    if (!ok) return;
  }
  controlBusy = true;
  renderControls(currentStatus());
  try {
    const result = await api.post(`/api/bot/${action}`, {});
    controlBusy = false;
    // No toast here: the bot's own status notification is the one toast for this action.
    if (result && result.state) updateStatus({ state: result.state });
  } catch (exc) {
    showError(`Could not ${action} the bot: ${exc.message}`);
  } finally {
    controlBusy = false;
    renderControls(currentStatus());
  }
}

for (const [action, button] of Object.entries(controls)) button.addEventListener("click", () => botAction(action));
document.addEventListener("bot-status", (event) => renderControls(event.detail));
renderControls(currentStatus());

// ---- live updates ---------------------------------------------------------------------------

on("portfolio_update", (payload) => {
  renderPortfolio(payload);
  transfersMaybeChanged(payload);
});
on("trades_update", (payload) => addTrades(tradesFrom(payload), true));
on("trade_executed", (payload) => addTrades(tradesFrom(payload), true));
on("strategies_update", (payload) => renderStrategies(payload.strategies));
on("market_update", renderPrices);

loadPortfolio();
loadTrades();
loadStrategies();
loadPrices();
loadTransfers(true);
initOrderTicket();
