// Alerts page: the rules with pause/resume/delete, the trigger history with filters, the whale
// feed and recent notifications; the rule and test-notification forms live in alerts_form.js.
// Data comes from GET /api/alerts, then live from alerts_update (sent at once after a change).
import { currentStatus } from "./layout.js";
import { api, ApiError } from "./api.js";
import { byId, el, panelError, panelLoading, panelShow, replaceChildren, td } from "./dom.js";
import * as fmt from "./format.js";
import { confirmAction, showError, showSuccess } from "./notify.js";
import { on } from "./socket.js";
import { LEVELS, STRATEGIES } from "./catalog.js";
import { baseAsset, initAlertForms, plain } from "./alerts_form.js";

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
const filters = { condition: byId("history-filter-condition"), symbol: byId("history-filter-symbol"), text: byId("history-filter-text") };

let symbols = []; // from the status: the form's choices and the history's symbol filter
const data = { rules: null, history: null, whales: null, notifications: null };
const drawn = { rules: "", history: "", whales: "", notifications: "" }; // what each panel shows now

// ---- words --------------------------------------------------------------------------------

function minutes(value) {
  const m = Number(value);
  if (!Number.isFinite(m)) return fmt.DASH;
  if (m >= 1440 && m % 1440 === 0) return m === 1440 ? "1 day" : `${plain(m / 1440)} days`;
  if (m >= 60 && m % 60 === 0) return `${plain(m / 60)} h`;
  return `${plain(m, 2)} min`;
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
    td(fmt.stamp(item.ts), "nowrap", `${fmt.dateTime(item.ts)} (market time)`),
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
      el("time", { class: "notification-time", datetime: note.ts || null, title: "when it was sent, on the bot's computer clock" }, fmt.wallDateTime(note.ts)),
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
  data.rules = payload.rules;
  data.history = payload.history;
  data.whales = payload.whales;
  data.notifications = payload.notifications;
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


// ---- the forms and their choices ----------------------------------------------------------

/** A rule the form added: say so in the rule's words and show it in the table. */
function ruleCreated(rule) {
  showSuccess(`Alert added: ${describeRule(rule)}.`);
  replaceRule(rule);
}

const forms = initAlertForms({ getSymbols: () => symbols, onRuleCreated: ruleCreated });

/** Symbols and exchanges (from the status) and strategies for the form; symbols also for the
 *  history's symbol filter. */
async function loadChoices() {
  forms.showError("");
  let status = currentStatus();
  try {
    status = await api.get("/api/status");
  } catch (exc) {
    if (!Array.isArray(status.symbols)) {
      forms.showError(`Could not load the symbols and exchanges: ${exc.message}. Reload the page to try again.`);
    }
  }
  symbols = Array.isArray(status.symbols) ? status.symbols : [];
  forms.setExchanges(Array.isArray(status.exchanges) ? status.exchanges : []);
  forms.setStrategies(STRATEGIES);
  forms.refresh();
  renderHistory(true);
}

loadChoices();
load();
