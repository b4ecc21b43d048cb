// Alerts page: the rule form (fields per condition, checked here as the server checks them, the
// server's field errors shown beside the field), the rules with pause/resume/delete, the trigger
// history with filters, the whale feed, recent notifications and a test-notification form.
// Data comes from GET /api/alerts, then live from alerts_update (sent at once after a change).
import { currentStatus } from "./layout.js";
import { api, ApiError } from "./api.js";
import { byId, el, panelError, panelLoading, panelShow, replaceChildren, td } from "./dom.js";
import * as fmt from "./format.js";
import { confirmAction, showError, showSuccess } from "./notify.js";
import { asList, last, on } from "./socket.js";

// The same limits as bot/alerts.py validate_rule and the notifications endpoint.
const MAX_WINDOW_MINUTES = 10_080;
const MAX_COOLDOWN_MINUTES = 10_080;
const MAX_NOTE_CHARS = 200;
const MAX_MESSAGE_CHARS = 500;
const MAX_COUNT = 1000;
const LEVELS = ["info", "success", "warning", "error"];
// Fields each condition takes besides repeat, cooldown_minutes and note (anything else is a 400).
const CONDITION_FIELDS = {
  above: ["symbol", "exchange", "price"],
  below: ["symbol", "exchange", "price"],
  pct_move: ["symbol", "exchange", "pct", "window_minutes"],
  drawdown: ["pct"],
  whale: ["symbol", "min_usd"],
  loss_streak: ["strategy", "count"],
};
const DEFAULTS = {
  pct_move: { pct: "2", window_minutes: "15" },
  drawdown: { pct: "10" },
  whale: { min_usd: "1000000" },
  loss_streak: { count: "3" },
};
const CONDITION_HELP = {
  above: "Fires when the mid price reaches the level or goes above it (a gap over the level counts).",
  below: "Fires when the mid price reaches the level or goes below it (a gap under the level counts).",
  pct_move: "Fires when the price has moved this much, up or down, within the window.",
  drawdown: "Fires when the portfolio's equity is this far below its peak.",
  whale: "Fires on a single transfer worth at least this much, of one asset or of any.",
  loss_streak: "Fires when the strategy closes this many losing trades in a row (net of fees).",
};
const CONDITION_WORDS = {
  above: "Price above", below: "Price below", pct_move: "% move", drawdown: "Drawdown", whale: "Whale",
  loss_streak: "Losing streak",
};
const HISTORY_ROWS = 200;
const WHALE_ROWS = 30;

const panels = {
  rules: byId("rules-panel"), history: byId("history-panel"), whales: byId("whales-panel"),
  notifications: byId("notifications-panel"),
};
const form = byId("alert-form");
const inputs = {
  condition: byId("alert-condition"),
  symbol: byId("alert-symbol"),
  exchange: byId("alert-exchange"),
  price: byId("alert-price"),
  pct: byId("alert-pct"),
  window_minutes: byId("alert-window"),
  min_usd: byId("alert-min-usd"),
  strategy: byId("alert-strategy"),
  count: byId("alert-count"),
  repeat: byId("alert-repeat"),
  cooldown_minutes: byId("alert-cooldown"),
  note: byId("alert-note"),
};
const filters = { condition: byId("history-filter-condition"), symbol: byId("history-filter-symbol"), text: byId("history-filter-text") };
const notifyForm = byId("notify-form");
const notifyInputs = { message: byId("notify-message"), level: byId("notify-level") };

let symbols = [];
let exchanges = [];
let strategies = [];
let market = last("market_update") || null;
const touched = new Set(); // fields the user typed in since the last reset: defaults leave them alone
const data = { rules: null, history: null, whales: null, notifications: null };
const drawn = { rules: "", history: "", whales: "", notifications: "" }; // what each panel shows now

// ---- words --------------------------------------------------------------------------------

/** 61000 -> "61,000", 0.41235 -> "0.41235": a user's own figure, as exact as they typed it. */
function plain(value, digits = 8) {
  if (value === null || value === undefined || !Number.isFinite(Number(value))) return fmt.DASH;
  return Number(value).toLocaleString("en-US", { maximumFractionDigits: digits });
}

function minutes(value) {
  const m = Number(value);
  if (!Number.isFinite(m)) return fmt.DASH;
  if (m >= 1440 && m % 1440 === 0) return m === 1440 ? "1 day" : `${plain(m / 1440)} days`;
  if (m >= 60 && m % 60 === 0) return `${plain(m / 60)} h`;
  return `${plain(m, 2)} min`;
}

function baseAsset(symbol) {
  return String(symbol || "").split("/")[0];
}

/** The rule in words: "BTC/USDT above 61,000 (mean of exchanges)", "momentum loses 3 in a row". */
function describeRule(rule) {
  const where = rule.exchange ? ` on ${rule.exchange}` : "";
  switch (rule.condition) {
    case "above":
    case "below":
      return `${rule.symbol} ${rule.condition} ${plain(rule.price)}${where || " (mean of exchanges)"}`;
    case "pct_move":
      return `${rule.symbol} moves ${plain(rule.pct, 4)}% within ${minutes(rule.window_minutes)}${where}`;
    case "drawdown":
      return `Portfolio drawdown beyond ${plain(rule.pct, 4)}%`;
    case "whale":
      return `Whale transfers${rule.symbol ? ` of ${baseAsset(rule.symbol)}` : ""} over ${plain(rule.min_usd, 0)} USD`;
    case "loss_streak":
      return `${fmt.label(rule.strategy)} loses ${rule.count} in a row`;
    default:
      return String(rule.condition || fmt.DASH);
  }
}

function firesText(rule) {
  if (!rule.repeat) return "once";
  return rule.cooldown_minutes ? `repeats, ${minutes(rule.cooldown_minutes)} cooldown` : "repeats";
}

/** Status words, badge class and the toggle button's label. A fired one-shot is inactive and
 *  disarmed; a paused rule is inactive but armed (the toggle always re-arms). */
function ruleStatus(rule) {
  if (rule.active === false) {
    if (rule.armed === false) return { text: "fired", badge: "badge-info", action: "Re-arm" };
    return { text: "paused", badge: "badge-off", action: "Resume" };
  }
  if (rule.armed === false) return { text: "active · re-arming", badge: "badge-warning", action: "Pause" };
  return { text: "active · armed", badge: "badge-on", action: "Pause" };
}

// ---- rules table --------------------------------------------------------------------------

function ruleRow(rule) {
  const words = describeRule(rule);
  const status = ruleStatus(rule);
  const count = Number(rule.trigger_count) || 0;
  const statusTitle = {
    fired: "A one-shot rule stops after it fires. Re-arm it to watch again.",
    "active · re-arming": "Fired; it arms again once the condition stops holding and the cooldown has passed.",
  }[status.text] || null;
  const toggle = el("button", {
    type: "button", class: "btn btn-small", "aria-label": `${status.action} alert: ${words}`,
    dataset: { action: "toggle" }, on: { click: (event) => toggleRule(rule, event.currentTarget) },
  }, status.action);
  const remove = el("button", {
    type: "button", class: "btn btn-small btn-danger", "aria-label": `Delete alert: ${words}`,
    dataset: { action: "delete" }, on: { click: (event) => deleteRule(rule, event.currentTarget) },
  }, "Delete");
  return el("tr", { dataset: { ruleId: String(rule.id), status: status.text.split(" ")[0] } }, [
    el("td", { class: "rule-words cell-full" }, [
      el("span", {}, words),
      rule.note ? el("span", { class: "rule-note" }, rule.note) : null,
    ]),
    el("td", { class: "rule-fires", dataset: { label: "Fires" } }, firesText(rule)),
    el("td", {}, el("span", { class: `badge ${status.badge}`, title: statusTitle }, status.text)),
    el("td", { class: "rule-triggered", dataset: { label: "Triggered" } }, [
      el("span", { class: "rule-count" }, count === 0 ? "never" : `${count} time${count === 1 ? "" : "s"}`),
      rule.last_triggered_at ? el("span", { class: "rule-last", title: "last triggered (market time)" }, fmt.dateTime(rule.last_triggered_at)) : null,
    ]),
    el("td", { class: "row-actions cell-full" }, [toggle, remove]),
  ]);
}

function renderRules() {
  if (data.rules === null) return;
  // Newest first: the server lists rules in the order they were added (ties on created_at, which
  // is market time, keep that order reversed; the sort is stable).
  const rules = [...data.rules].reverse().sort((a, b) => String(b.created_at || "").localeCompare(String(a.created_at || "")));
  const signature = JSON.stringify(rules);
  if (signature === drawn.rules) return; // keeps buttons (and a click in progress) in place
  drawn.rules = signature;
  replaceChildren(byId("rules-body"), rules.map(ruleRow));
  const active = rules.filter((r) => r.active).length;
  byId("rules-count").textContent = rules.length ? `${rules.length} rule${rules.length === 1 ? "" : "s"} · ${active} active` : "";
  panelShow(panels.rules, rules.length > 0);
}

function replaceRule(rule) {
  if (data.rules === null) return;
  const index = data.rules.findIndex((r) => r.id === rule.id);
  if (index >= 0) data.rules[index] = rule;
  else data.rules.push(rule);
  renderRules();
}

function setRowBusy(button, busy) {
  const row = button.closest("tr");
  for (const b of row ? row.querySelectorAll("button") : [button]) b.disabled = busy;
}

async function toggleRule(rule, button) {
  setRowBusy(button, true);
  try {
    const answer = await api.post(`/api/alerts/${encodeURIComponent(rule.id)}/toggle`);
    const updated = answer.rule;
    const verb = updated.active ? (rule.armed === false ? "re-armed" : "resumed") : "paused";
    showSuccess(`Alert ${verb}: ${describeRule(updated)}.`);
    replaceRule(updated);
  } catch (exc) {
    showError(`The alert was not changed: ${exc.message}`);
    if (exc instanceof ApiError && exc.status === 404) refresh();
  } finally {
    if (button.isConnected) setRowBusy(button, false);
  }
}

async function deleteRule(rule, button) {
  const words = describeRule(rule);
  const sure = await confirmAction(`Delete the alert "${words}"? Its past triggers stay in the history.`,
    { title: "Delete alert rule", confirmLabel: "Delete", danger: true });
  if (!sure) return;
  setRowBusy(button, true);
  try {
    await api.del(`/api/alerts/${encodeURIComponent(rule.id)}`);
    showSuccess(`Alert deleted: ${words}.`);
    if (data.rules !== null) data.rules = data.rules.filter((r) => r.id !== rule.id);
    renderRules();
  } catch (exc) {
    showError(`The alert was not deleted: ${exc.message}`);
    if (exc instanceof ApiError && exc.status === 404) refresh();
  } finally {
    if (button.isConnected) setRowBusy(button, false);
  }
}

// ---- history ------------------------------------------------------------------------------

function historyRow(item) {
  return el("tr", { dataset: { ruleId: String(item.rule_id || "") } }, [
    td(fmt.dateTime(item.ts), "nowrap"),
    el("td", {}, el("span", { class: "badge badge-warning" }, CONDITION_WORDS[item.condition] || fmt.label(item.condition || "alert"))),
    td(item.symbol || fmt.DASH, "nowrap"),
    td(item.message || fmt.DASH, "reason-wrap cell-full"),
  ]);
}

function syncSymbolFilter() {
  const seen = new Set(symbols);
  for (const item of data.history || []) if (item.symbol) seen.add(item.symbol);
  const wanted = [...seen];
  const current = [...filters.symbol.options].slice(1).map((o) => o.value);
  if (wanted.join("|") === current.join("|")) return;
  const chosen = filters.symbol.value;
  replaceChildren(filters.symbol, [el("option", { value: "" }, "All symbols"), ...wanted.map((s) => el("option", { value: s }, s))]);
  filters.symbol.value = wanted.includes(chosen) ? chosen : "";
}

function renderHistory(force = false) {
  if (data.history === null) return;
  syncSymbolFilter();
  const condition = filters.condition.value;
  const symbol = filters.symbol.value;
  const text = filters.text.value.trim().toLowerCase();
  const ordered = [...data.history].sort((a, b) => String(b.ts || "").localeCompare(String(a.ts || "")));
  const matching = ordered.filter((item) => (!condition || item.condition === condition)
    && (!symbol || item.symbol === symbol)
    && (!text || String(item.message || "").toLowerCase().includes(text)));
  const signature = JSON.stringify([condition, symbol, text, matching.length, matching.slice(0, HISTORY_ROWS)]);
  if (!force && signature === drawn.history) return;
  drawn.history = signature;
  const shown = matching.slice(0, HISTORY_ROWS);
  replaceChildren(byId("history-body"), shown.map(historyRow));
  const note = byId("history-note");
  note.hidden = matching.length <= HISTORY_ROWS;
  note.textContent = `Showing the newest ${HISTORY_ROWS} of ${matching.length} triggers.`;
  const filtered = Boolean(condition || symbol || text) && ordered.length > 0;
  panelShow(panels.history, shown.length > 0,
    filtered ? "No trigger matches the filter. Clear the filters to see every trigger." : null);
}

for (const input of [filters.condition, filters.symbol]) input.addEventListener("change", () => renderHistory());
filters.text.addEventListener("input", () => renderHistory());

// ---- whales and notifications -------------------------------------------------------------

function whaleRow(whale) {
  return el("tr", {}, [
    el("td", { class: "nowrap" }, el("time", { datetime: whale.ts || null, title: fmt.dateTime(whale.ts) }, fmt.time(whale.ts))),
    td(whale.asset || fmt.DASH, "strong"),
    el("td", { class: "num", dataset: { label: "Amount" } }, fmt.qty(whale.amount)),
    el("td", { class: "num", dataset: { label: "USD" } }, fmt.money(whale.usd_value, 0)),
    td(`${whale.from || "unknown"} → ${whale.to || "unknown"}`, "whale-route cell-full"),
  ]);
}

function renderWhales() {
  if (data.whales === null) return;
  const shown = data.whales.slice(0, WHALE_ROWS);
  const signature = JSON.stringify(shown);
  if (signature === drawn.whales) return;
  drawn.whales = signature;
  replaceChildren(byId("whales-body"), shown.map(whaleRow));
  byId("whales-note").textContent = data.whales.length > WHALE_ROWS ? `newest ${WHALE_ROWS} of ${data.whales.length}` : "";
  panelShow(panels.whales, shown.length > 0);
}

const LEVEL_BADGE = { info: "badge-info", success: "badge-success", warning: "badge-warning", error: "badge-error" };

function notificationItem(note) {
  const level = LEVELS.includes(note.level) ? note.level : "info";
  return el("li", { class: `notification notification-${level}`, dataset: { id: String(note.id || ""), kind: String(note.kind || "") } }, [
    el("div", { class: "notification-head" }, [
      el("span", { class: "badge" }, fmt.label(note.kind || "notification")),
      el("span", { class: `badge ${LEVEL_BADGE[level]}` }, level),
      el("time", { class: "notification-time", datetime: note.ts || null }, fmt.dateTime(note.ts)),
    ]),
    el("p", { class: "notification-message" }, note.message || fmt.DASH),
  ]);
}

function renderNotifications() {
  if (data.notifications === null) return;
  const list = [...data.notifications].sort((a, b) => String(b.ts || "").localeCompare(String(a.ts || "")));
  const signature = JSON.stringify(list.map((n) => n.id));
  if (signature === drawn.notifications) return;
  drawn.notifications = signature;
  replaceChildren(byId("notifications-list"), list.map(notificationItem));
  byId("notifications-note").textContent = list.length ? `latest ${list.length}` : "";
  panelShow(panels.notifications, list.length > 0);
}

// ---- data ---------------------------------------------------------------------------------

function accept(payload) {
  if (!payload || typeof payload !== "object") return;
  data.rules = asList(payload, "rules");
  data.history = asList(payload, "history");
  data.whales = asList(payload, "whales");
  data.notifications = asList(payload, "notifications");
  renderRules();
  renderHistory();
  renderWhales();
  renderNotifications();
}

async function refresh() {
  try {
    accept(await api.get("/api/alerts"));
  } catch (exc) {
    showError(`Could not reload the alerts: ${exc.message}`);
  }
}

async function load() {
  for (const panel of Object.values(panels)) panelLoading(panel);
  Object.keys(drawn).forEach((key) => { drawn[key] = ""; });
  try {
    accept(await api.get("/api/alerts"));
  } catch (exc) {
    panelError(panels.rules, `Could not load the alert rules: ${exc.message}`, load);
    panelError(panels.history, `Could not load the alert history: ${exc.message}`, load);
    panelError(panels.whales, `Could not load the whale transfers: ${exc.message}`, load);
    panelError(panels.notifications, `Could not load the notifications: ${exc.message}`, load);
  }
}

on("alerts_update", accept);

// ---- the rule form ------------------------------------------------------------------------

function fieldsOf(condition) {
  return CONDITION_FIELDS[condition] || [];
}

function currentMid(symbol, exchange) {
  if (!market || !Array.isArray(market.quotes) || !symbol) return null;
  const mids = market.quotes
    .filter((q) => q.symbol === symbol && (!exchange || q.exchange === exchange))
    .map((q) => (q.bid + q.ask) / 2)
    .filter(Number.isFinite);
  return mids.length ? mids.reduce((sum, mid) => sum + mid, 0) / mids.length : null;
}

function inputPrice(value) {
  const digits = value >= 1000 ? 2 : value >= 1 ? 4 : 6;
  return String(Number(value.toFixed(digits)));
}

/** The price help line, and the price itself while the user has not typed one: both follow
 *  the market, so an untouched form always offers the current mid. */
function syncPrice() {
  const condition = inputs.condition.value;
  const help = byId("alert-price-help");
  if (condition !== "above" && condition !== "below") return;
  const symbol = inputs.symbol.value;
  const exchange = inputs.exchange.value;
  const mid = currentMid(symbol, exchange);
  if (mid === null) {
    help.textContent = symbol ? "Waiting for the first price of this market…" : "";
    return;
  }
  help.textContent = `Now ${fmt.price(mid)} (mid, ${exchange || "mean of all exchanges"}).`;
  if (!touched.has("price")) inputs.price.value = inputPrice(mid);
}

function fillSelect(select, options, keep = true) {
  const chosen = select.value;
  replaceChildren(select, options.map(([value, text]) => el("option", { value }, text)));
  if (keep && options.some(([value]) => value === chosen)) select.value = chosen;
}

let symbolChoicesFor = null; // the condition the symbol options were built for

function fillSymbolChoices(condition) {
  const wasWhale = symbolChoicesFor === "whale";
  symbolChoicesFor = condition;
  if (condition === "whale") {
    // The whale filter is an asset: one option per base asset (the server takes any symbol of it).
    // Coming from a price condition, start from "Any asset" rather than that market's asset.
    const byAsset = new Map();
    for (const s of symbols) if (!byAsset.has(baseAsset(s))) byAsset.set(baseAsset(s), s);
    fillSelect(inputs.symbol, [["", "Any asset"], ...[...byAsset].map(([asset, s]) => [s, asset])], wasWhale);
    byId("alert-symbol-label").textContent = "Asset";
  } else {
    fillSelect(inputs.symbol, symbols.length ? symbols.map((s) => [s, s]) : [["", "No symbols loaded"]]);
    byId("alert-symbol-label").textContent = "Symbol";
  }
}

/** Show only the fields this condition takes, with its defaults where the user typed nothing. */
function applyCondition() {
  const condition = inputs.condition.value;
  for (const node of form.querySelectorAll("[data-for]")) {
    node.hidden = !node.dataset.for.split(" ").includes(condition);
  }
  byId("alert-cooldown-field").hidden = !inputs.repeat.checked;
  byId("alert-condition-help").textContent = CONDITION_HELP[condition] || "";
  byId("alert-pct-label").textContent = condition === "drawdown" ? "Drawdown (%)" : "Move (%)";
  fillSymbolChoices(condition);
  for (const [name, value] of Object.entries(DEFAULTS[condition] || {})) {
    if (!touched.has(name)) inputs[name].value = value;
  }
  for (const name of Object.keys(inputs)) if (isHidden(name)) setFieldError(name, "");
  syncPrice();
}

function isHidden(name) {
  return Boolean(inputs[name] && inputs[name].closest("[hidden]"));
}

function setFieldError(name, message, prefix = "error-", fields = inputs) {
  const box = document.getElementById(`${prefix}${name}`);
  const input = fields[name];
  if (!box || !input) return false;
  box.textContent = message;
  box.hidden = !message;
  if (message) input.setAttribute("aria-invalid", "true");
  else input.removeAttribute("aria-invalid");
  return true;
}

function showFormError(id, message) {
  const box = byId(id);
  box.textContent = message;
  box.hidden = !message;
}

function clearErrors() {
  for (const name of Object.keys(inputs)) setFieldError(name, "");
  showFormError("alert-form-error", "");
}

/** A number from an input: {value} or {error: "missing" | "invalid"}. */
function numberFrom(input) {
  if (input.validity && input.validity.badInput) return { error: "invalid" };
  const text = String(input.value).trim();
  if (text === "") return { error: "missing" };
  const value = Number(text);
  return Number.isFinite(value) ? { value } : { error: "invalid" };
}

/** Read the rule form as the server will check it; returns {body, errors}. */
function readRule() {
  const condition = inputs.condition.value;
  const fields = fieldsOf(condition);
  const body = { condition };
  const errors = {};
  if (!CONDITION_FIELDS[condition]) errors.condition = "Choose what the alert watches.";
  const positive = (name, missing, invalid, check = () => true) => {
    const { value, error } = numberFrom(inputs[name]);
    if (error === "missing") errors[name] = missing;
    else if (error || !(value > 0) || !check(value)) errors[name] = invalid;
    else body[name] = value;
  };
  if (fields.includes("symbol")) {
    const symbol = inputs.symbol.value;
    if (symbol) body.symbol = symbol;
    else if (condition !== "whale") errors.symbol = "Choose a symbol.";
  }
  if (fields.includes("exchange") && inputs.exchange.value) body.exchange = inputs.exchange.value;
  if (fields.includes("price")) positive("price", "Enter the price level.", "The price must be a number above 0.");
  if (fields.includes("pct")) {
    if (condition === "drawdown") {
      positive("pct", "Enter the drawdown in %.", "The drawdown must be above 0% and below 100%.", (v) => v < 100);
    } else {
      positive("pct", "Enter the size of the move in %.", "The move must be a percentage above 0.");
    }
  }
  if (fields.includes("window_minutes")) {
    positive("window_minutes", "Enter the window in minutes.",
      `The window must be above 0 and at most ${plain(MAX_WINDOW_MINUTES)} minutes (a week).`, (v) => v <= MAX_WINDOW_MINUTES);
  }
  if (fields.includes("min_usd")) positive("min_usd", "Enter the smallest transfer, in USD, to alert on.", "The USD value must be a number above 0.");
  if (fields.includes("strategy")) {
    if (inputs.strategy.value) body.strategy = inputs.strategy.value;
    else errors.strategy = "Choose a strategy.";
  }
  if (fields.includes("count")) {
    const text = String(inputs.count.value).trim();
    const value = Number(text);
    if (text === "" && !inputs.count.validity.badInput) errors.count = "Enter how many losing trades in a row.";
    else if (!/^\d+$/.test(text) || value < 1 || value > MAX_COUNT) errors.count = `Enter a whole number from 1 to ${MAX_COUNT}.`;
    else body.count = value;
  }
  body.repeat = inputs.repeat.checked;
  if (body.repeat) {
    const { value, error } = numberFrom(inputs.cooldown_minutes);
    if (error === "missing") body.cooldown_minutes = 0;
    else if (error || value < 0 || value > MAX_COOLDOWN_MINUTES) {
      errors.cooldown_minutes = `The cooldown must be from 0 to ${plain(MAX_COOLDOWN_MINUTES)} minutes.`;
    } else body.cooldown_minutes = value;
  }
  const note = inputs.note.value.trim();
  if (note.length > MAX_NOTE_CHARS) errors.note = `Keep the note under ${MAX_NOTE_CHARS} characters (now ${note.length}).`;
  else if (note) body.note = note;
  return { body, errors };
}

function resetForm() {
  form.reset();
  touched.clear();
  clearErrors();
  applyCondition();
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  clearErrors();
  const { body, errors } = readRule();
  const names = Object.keys(errors);
  if (names.length) {
    for (const name of names) setFieldError(name, errors[name]);
    inputs[names[0]].focus();
    return;
  }
  const submit = byId("alert-submit");
  submit.disabled = true;
  try {
    const answer = await api.post("/api/alerts", body);
    showSuccess(`Alert added: ${describeRule(answer.rule)}.`);
    resetForm();
    replaceRule(answer.rule);
  } catch (exc) {
    if (exc instanceof ApiError && exc.field && inputs[exc.field] && !isHidden(exc.field)) {
      setFieldError(exc.field, exc.message);
      inputs[exc.field].focus();
    } else {
      showFormError("alert-form-error", `Not saved: ${exc.message}`);
      showError(`The alert was not added: ${exc.message}`);
    }
  } finally {
    submit.disabled = false;
  }
});

byId("alert-reset").addEventListener("click", resetForm);
inputs.condition.addEventListener("change", () => applyCondition());
inputs.repeat.addEventListener("change", () => {
  byId("alert-cooldown-field").hidden = !inputs.repeat.checked;
  if (!inputs.repeat.checked) setFieldError("cooldown_minutes", "");
});
for (const name of ["symbol", "exchange"]) {
  inputs[name].addEventListener("change", () => {
    touched.delete("price"); // a new market needs a new level
    syncPrice();
  });
}
// Stop following the market once the user is in the price field, not only once they typed.
inputs.price.addEventListener("focus", () => touched.add("price"));
for (const [name, input] of Object.entries(inputs)) {
  input.addEventListener("input", () => {
    if (name !== "symbol" && name !== "exchange" && name !== "condition") touched.add(name);
    setFieldError(name, "");
  });
}

on("market_update", (payload) => {
  if (!payload || !Array.isArray(payload.quotes)) return;
  market = payload;
  syncPrice();
});

async function loadChoices() {
  showFormError("alert-form-error", "");
  let status = currentStatus();
  try {
    status = await api.get("/api/status");
  } catch (exc) {
    if (!Array.isArray(status.symbols)) {
      showFormError("alert-form-error", `Could not load the symbols and exchanges: ${exc.message}. Reload the page to try again.`);
    }
  }
  symbols = Array.isArray(status.symbols) ? status.symbols : [];
  exchanges = Array.isArray(status.exchanges) ? status.exchanges : [];
  fillSelect(inputs.exchange, [["", "Any (mean of all)"], ...exchanges.map((x) => [x, x])]);
  try {
    strategies = asList(await api.get("/api/strategies/performance"), "strategies").map((s) => s.strategy);
    fillSelect(inputs.strategy, strategies.map((s) => [s, fmt.label(s)]));
  } catch (exc) {
    fillSelect(inputs.strategy, [["", "Strategies not loaded"]]);
    setFieldError("strategy", `Could not load the strategies: ${exc.message}`);
  }
  applyCondition();
  renderHistory(true);
}

// ---- test notification --------------------------------------------------------------------

notifyForm.addEventListener("submit", async (event) => {
  event.preventDefault();
  for (const name of Object.keys(notifyInputs)) setFieldError(name, "", "error-notify-", notifyInputs);
  showFormError("notify-form-error", "");
  const result = byId("notify-result");
  result.hidden = true;
  const message = notifyInputs.message.value.trim();
  const level = notifyInputs.level.value;
  let error = null;
  if (!message) error = ["message", "Write the message to send."];
  else if (message.length > MAX_MESSAGE_CHARS) error = ["message", `Keep it under ${MAX_MESSAGE_CHARS} characters (now ${message.length}).`];
  else if (!LEVELS.includes(level)) error = ["level", `Choose a level: ${LEVELS.join(", ")}.`];
  if (error) {
    setFieldError(error[0], error[1], "error-notify-", notifyInputs);
    notifyInputs[error[0]].focus();
    return;
  }
  const submit = byId("notify-submit");
  submit.disabled = true;
  try {
    const answer = await api.post("/api/notifications/send", { message, level });
    // The notification itself arrives as a toast (and in the list) through the socket.
    result.textContent = answer.webhook
      ? `Sent at ${fmt.localTime()}: shown on every dashboard and queued for the webhook.`
      : `Sent at ${fmt.localTime()}: shown on every dashboard. No webhook is configured (notifications.webhook_url).`;
    result.hidden = false;
    notifyInputs.message.value = "";
  } catch (exc) {
    const field = exc instanceof ApiError ? exc.field : null;
    if (!(field && setFieldError(field, exc.message, "error-notify-", notifyInputs))) {
      showFormError("notify-form-error", `Not sent: ${exc.message}`);
    }
  } finally {
    submit.disabled = false;
  }
});
for (const [name, input] of Object.entries(notifyInputs)) {
  input.addEventListener("input", () => setFieldError(name, "", "error-notify-", notifyInputs));
}

applyCondition();
loadChoices();
load();
