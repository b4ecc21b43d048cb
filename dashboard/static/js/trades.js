// Round trips page: the closed round trips (GET /api/roundtrips) with filters and paging, the
// per-symbol figures and the daily / weekly P&L calendar (GET /api/roundtrips/summary).
import "./layout.js";
import { api, query } from "./api.js";
import { byId, el, labelCells, panelError, panelLoading, panelShow, replaceChildren, td } from "./dom.js";
import * as fmt from "./format.js";

const PAGE_SIZE = 50;
const inputs = {
  strategy: byId("trip-strategy"), symbol: byId("trip-symbol"), exchange: byId("trip-exchange"),
  outcome: byId("trip-outcome"), from: byId("trip-from"), to: byId("trip-to"),
};
const tripsPanel = byId("trips-panel");
const symbolsPanel = byId("symbols-panel");
const calendarPanel = byId("calendar-panel");
let page = 1;
let calendarMode = "days";
let summary = null;
let loadNumber = 0;

function filters() {
  const values = {};
  for (const [name, input] of Object.entries(inputs)) values[name] = input.value;
  if (values.from) values.from = `${values.from}T00:00:00Z`;
  if (values.to) values.to = `${values.to}T23:59:59.999Z`;
  return values;
}

function showFilterError(message) {
  const box = byId("trip-filter-error");
  box.textContent = message || "";
  box.hidden = !message;
}

function signed(node, value) {
  node.classList.add(fmt.signClass(value));
  return node;
}

function tripRow(trip) {
  return el("tr", { dataset: { tripId: trip.id } }, [
    td(fmt.dateTime(trip.opened_at)),
    td(fmt.dateTime(trip.closed_at)),
    td(fmt.duration(trip.duration_seconds), "num"),
    td(fmt.label(trip.strategy)),
    td(trip.symbols.join(" + ")),
    td(trip.side),
    signed(td(fmt.signedMoney(trip.net_pnl, 4), "num"), trip.net_pnl),
    signed(td(fmt.pct(trip.return_pct, 2, true), "num"), trip.return_pct),
    td(trip.exit_reason || fmt.DASH, "reason", trip.exit_reason || null),
  ]);
}

async function loadTrips() {
  const mine = ++loadNumber;
  if (tripsPanel.dataset.state !== "ready") panelLoading(tripsPanel);
  const params = { ...filters(), status: "closed", limit: PAGE_SIZE, page };
  try {
    const data = await api.get(`/api/roundtrips${query(params)}`);
    if (mine !== loadNumber) return;
    showFilterError("");
    replaceChildren(byId("trips-body"), data.round_trips.map(tripRow));
    labelCells(byId("trips-body"));
    byId("trips-count").textContent = `${data.total} round trip${data.total === 1 ? "" : "s"}`;
    byId("trips-page").textContent = data.pages ? `Page ${data.page} of ${data.pages}` : "";
    byId("trips-prev").disabled = data.page <= 1;
    byId("trips-next").disabled = data.page >= data.pages;
    const filtered = Object.values(filters()).some((v) => v);
    panelShow(tripsPanel, data.round_trips.length > 0,
      filtered ? "No closed round trip matches these filters. Widen them to see more." : null);
  } catch (exc) {
    if (mine !== loadNumber) return;
    if (exc.field && exc.status === 400) showFilterError(exc.message);
    panelError(tripsPanel, `Could not load the round trips: ${exc.message}`, loadTrips);
  }
}

function symbolRow([symbol, stats]) {
  return el("tr", {}, [
    el("th", { scope: "row" }, symbol),
    td(String(stats.round_trips), "num"),
    td(fmt.ratioPct(stats.win_rate), "num"),
    signed(td(fmt.signedMoney(stats.closed_net_pnl, 2), "num"), stats.closed_net_pnl),
    signed(td(fmt.pct(stats.avg_return_pct, 2, true), "num"), stats.avg_return_pct),
  ]);
}

function calendarItem(bucket) {
  const title = calendarMode === "days" ? bucket.date : `${bucket.week} (${bucket.start} – ${bucket.end})`;
  return el("li", { class: `pnl-day ${fmt.signClass(bucket.net_pnl)}`, dataset: { key: bucket.date || bucket.week } }, [
    el("span", { class: "pnl-day-date" }, title),
    el("strong", { class: "pnl-day-value" }, fmt.signedMoney(bucket.net_pnl, 2)),
    el("span", { class: "pnl-day-count" }, `${bucket.round_trips} trip${bucket.round_trips === 1 ? "" : "s"} · ${bucket.wins}W ${bucket.losses}L`),
  ]);
}

function renderCalendar() {
  if (summary === null) return;
  const buckets = summary[calendarMode];
  replaceChildren(byId("calendar-body"), [...buckets].reverse().map(calendarItem));
  byId("calendar-days").setAttribute("aria-pressed", String(calendarMode === "days"));
  byId("calendar-weeks").setAttribute("aria-pressed", String(calendarMode === "weeks"));
  panelShow(calendarPanel, buckets.length > 0);
}

async function loadSummary() {
  for (const panel of [symbolsPanel, calendarPanel]) if (panel.dataset.state !== "ready") panelLoading(panel);
  const { strategy, symbol, exchange, outcome, from, to } = filters();
  try {
    summary = await api.get(`/api/roundtrips/summary${query({ strategy, symbol, exchange, outcome, from, to })}`);
    const rows = Object.entries(summary.symbols).filter(([, s]) => s.round_trips > 0);
    replaceChildren(byId("symbols-body"), rows.map(symbolRow));
    panelShow(symbolsPanel, rows.length > 0);
    renderCalendar();
  } catch (exc) {
    panelError(symbolsPanel, `Could not load the per-symbol figures: ${exc.message}`, loadSummary);
    panelError(calendarPanel, `Could not load the calendar: ${exc.message}`, loadSummary);
  }
}

function options(select, names, allText, labelled = false) {
  const keep = select.value;
  replaceChildren(select, [el("option", { value: "" }, allText),
    ...names.map((name) => el("option", { value: name }, labelled ? fmt.label(name) : name))]);
  select.value = names.includes(keep) ? keep : "";
}

async function loadChoices() {
  try {
    const [status, strategies] = await Promise.all([api.get("/api/status"), api.get("/api/strategies/performance")]);
    const names = (strategies.strategies || strategies).map((s) => s.strategy);
    options(inputs.strategy, names, "All strategies", true);
    options(inputs.symbol, status.symbols || [], "All symbols");
    options(inputs.exchange, status.exchanges || [], "All exchanges");
  } catch (exc) {
    showFilterError(`Could not load the filter choices: ${exc.message}`);
  }
}

function reload() {
  page = 1;
  loadTrips();
  loadSummary();
}

for (const input of Object.values(inputs)) input.addEventListener("change", reload);
byId("trip-filters").addEventListener("submit", (event) => { event.preventDefault(); reload(); });
byId("trips-prev").addEventListener("click", () => { page = Math.max(1, page - 1); loadTrips(); });
byId("trips-next").addEventListener("click", () => { page += 1; loadTrips(); });
byId("calendar-days").addEventListener("click", () => { calendarMode = "days"; renderCalendar(); });
byId("calendar-weeks").addEventListener("click", () => { calendarMode = "weeks"; renderCalendar(); });

loadChoices();
reload();
