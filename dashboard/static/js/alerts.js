// Alerts page: the rules and the history of fired alerts, from GET /api/alerts and then live
// from alerts_update. Forms to add and delete rules come with the alerts feature.
import "./layout.js";
import { api } from "./api.js";
import { byId, el, panelError, panelLoading, panelShow, replaceChildren, td } from "./dom.js";
import * as fmt from "./format.js";
import { on } from "./socket.js";

const rulesPanel = byId("rules-panel");
const historyPanel = byId("history-panel");

/** Plain words for a rule's condition: "price above 65,000.00", "moves 2.00% within 15 min". */
function describeCondition(rule) {
  switch (rule.condition) {
    case "above":
    case "below":
      return `price ${rule.condition} ${fmt.price(rule.price)}`;
    case "pct_move":
      return `moves ${fmt.pct(rule.pct)}${rule.window_minutes ? ` within ${rule.window_minutes} min` : ""}`;
    case "drawdown":
      return `portfolio drawdown beyond ${fmt.pct(rule.pct)}`;
    case "whale":
      return rule.min_usd ? `whale transfer above ${fmt.money(rule.min_usd, 0)} USD` : "whale transfer";
    case "loss_streak":
      return `${fmt.label(rule.strategy)} loses ${rule.count ?? "?"} trades in a row`;
    default:
      return rule.condition ? String(rule.condition) : fmt.DASH;
  }
}

function ruleState(rule) {
  if (rule.active === false && !rule.repeat && rule.trigger_count > 0) return ["fired (one-shot)", "badge-off"];
  if (rule.active === false) return ["paused", "badge-off"];
  if (rule.armed === false) return ["re-arming", "badge-warning"]; // fired; arms again once the condition clears
  return ["armed", "badge-on"];
}

function ruleRow(rule) {
  const repeat = rule.repeat ? `yes${rule.cooldown_minutes ? `, at most every ${rule.cooldown_minutes} min` : ""}` : "once";
  const [state, badge] = ruleState(rule);
  const triggered = rule.last_triggered_at
    ? `${fmt.dateTime(rule.last_triggered_at)}${rule.trigger_count ? ` (${rule.trigger_count}×)` : ""}`
    : "never";
  const subject = rule.symbol || (rule.condition === "drawdown" ? "portfolio" : rule.strategy ? fmt.label(rule.strategy) : "any");
  return el("tr", { dataset: { ruleId: String(rule.id ?? "") } }, [
    td(subject),
    td(describeCondition(rule), null, rule.note || null),
    td(rule.exchange || "any"),
    td(repeat),
    td(triggered),
    el("td", {}, el("span", { class: `badge ${badge}` }, state)),
  ]);
}

function historyRow(item) {
  return el("tr", {}, [
    td(fmt.dateTime(item.ts), "nowrap"),
    el("td", {}, el("span", { class: "badge badge-warning" }, fmt.label(item.condition || "alert"))),
    td(item.symbol || fmt.DASH),
    td(item.message || fmt.DASH, "reason-wrap"),
  ]);
}

function render(data) {
  if (!data || typeof data !== "object") return;
  const rules = Array.isArray(data.rules) ? data.rules : [];
  const history = Array.isArray(data.history) ? data.history : [];
  replaceChildren(byId("rules-body"), rules.map(ruleRow));
  panelShow(rulesPanel, rules.length > 0);
  // Newest first, whatever order the server keeps.
  const ordered = [...history].sort((a, b) => String(b.ts || "").localeCompare(String(a.ts || "")));
  replaceChildren(byId("history-body"), ordered.map(historyRow));
  panelShow(historyPanel, ordered.length > 0);
}

async function load() {
  panelLoading(rulesPanel);
  panelLoading(historyPanel);
  try {
    render(await api.get("/api/alerts"));
  } catch (exc) {
    panelError(rulesPanel, `Could not load the alert rules: ${exc.message}`, load);
    panelError(historyPanel, `Could not load the alert history: ${exc.message}`, load);
  }
}

on("alerts_update", render);
load();
