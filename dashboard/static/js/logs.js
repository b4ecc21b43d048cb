// Logs page: the activity log or the tail of bot.log (GET /api/logs), newest first, filtered by
// level, strategy and text, paged backwards from the end of the file ("Older").
import "./layout.js";
import { api, query } from "./api.js";
import { byId, el, panelError, panelLoading, panelShow, replaceChildren, td } from "./dom.js";
import * as fmt from "./format.js";

const PAGE_SIZE = 50;
const inputs = { source: byId("log-source"), level: byId("log-level"), strategy: byId("log-strategy"), q: byId("log-text") };
const panel = byId("logs-panel");
let older = null; // the byte offset the next older page starts from
let shown = [];
let loadNumber = 0;

function levelBadge(level) {
  const cls = { error: "badge-error", critical: "badge-error", warning: "badge-warning", info: "badge-info" }[level] || "badge-off";
  return el("span", { class: `badge ${cls}` }, level);
}

function row(record) {
  const message = record.detail ? `${record.message}\n${record.detail}` : record.message;
  return el("tr", { dataset: { level: record.level } }, [
    td(record.ts ? String(record.ts).replace("T", " ").slice(0, 23) : fmt.DASH),
    el("td", {}, levelBadge(record.level)),
    td(record.event || record.logger || fmt.DASH),
    td(record.strategy ? fmt.label(record.strategy) : fmt.DASH),
    td(message, "reason-wrap log-message wide"),
  ]);
}

async function load(more = false) {
  const mine = ++loadNumber;
  if (!more) {
    older = null;
    shown = [];
    panelLoading(panel);
  }
  const params = { source: inputs.source.value, level: inputs.level.value, strategy: inputs.strategy.value,
    q: inputs.q.value.trim(), limit: PAGE_SIZE, before: more ? older : null };
  try {
    const data = await api.get(`/api/logs${query(params)}`);
    if (mine !== loadNumber) return;
    shown = shown.concat(data.records);
    older = data.older_before;
    replaceChildren(byId("logs-body"), shown.map(row));
    byId("log-older").disabled = older === null;
    byId("log-note").textContent = older === null
      ? `${shown.length} record${shown.length === 1 ? "" : "s"}; start of ${data.file} reached.`
      : `${shown.length} record${shown.length === 1 ? "" : "s"} from the end of ${data.file}.`;
    const filtered = inputs.level.value || inputs.strategy.value || inputs.q.value.trim();
    panelShow(panel, shown.length > 0 || older !== null,
      filtered ? `No record of ${data.file} matches these filters.` : `${data.file} has no records yet.`);
  } catch (exc) {
    if (mine === loadNumber) panelError(panel, `Could not read the log: ${exc.message}`, () => load(more));
  }
}

async function loadStrategies() {
  try {
    const data = await api.get("/api/strategies/performance");
    const names = data.strategies.map((s) => s.strategy);
    replaceChildren(inputs.strategy, [el("option", { value: "" }, "Every strategy"),
      ...names.map((name) => el("option", { value: name }, fmt.label(name)))]);
  } catch (exc) {
    // Filtering by level and text still works without the strategy names.
  }
}

let searchTimer = null;
inputs.q.addEventListener("input", () => { clearTimeout(searchTimer); searchTimer = setTimeout(() => load(), 300); });
for (const name of ["source", "level", "strategy"]) inputs[name].addEventListener("change", () => load());
byId("log-filters").addEventListener("submit", (event) => { event.preventDefault(); load(); });
byId("log-older").addEventListener("click", () => load(true));
byId("log-refresh").addEventListener("click", () => load());

loadStrategies();
load();
