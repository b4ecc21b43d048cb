// Journal page: the entry form (new or edit) with client-side checks and the server's field
// errors shown beside the field, and the filterable list of entries.
import "./layout.js";
import { api, ApiError, query } from "./api.js";
import { byId, el, fieldError, panelError, panelLoading, panelShow, replaceChildren } from "./dom.js";
import * as fmt from "./format.js";
import { showError, showSuccess } from "./notify.js";
import { asList } from "./socket.js";

const TEXT_FIELDS = ["entry_reason", "exit_reason", "lessons_learned"];
const MAX_TEXT = 2000;
const KNOWN_STRATEGIES = ["arbitrage", "momentum", "news", "stat_arb", "manual"];

const form = byId("journal-form");
const inputs = {
  trade_id: byId("journal-trade"),
  entry_reason: byId("journal-entry-reason"),
  confidence_level: byId("journal-confidence"),
  exit_reason: byId("journal-exit-reason"),
  lessons_learned: byId("journal-lessons"),
  rating: byId("journal-rating"),
};
const listPanel = byId("journal-list-panel");
const filterStrategy = byId("journal-filter-strategy");
const filterText = byId("journal-filter-text");

let editing = null; // the entry being edited, or null for a new one
let entries = null; // null until the first answer
const tradesById = new Map();

// ---- trade picker -----------------------------------------------------------------------

function tradeText(t) {
  const fill = `${t.side} ${fmt.qty(t.qty)} ${t.symbol} @ ${fmt.price(t.price)} (${t.exchange})`;
  return `${fmt.dateTime(t.ts)} · ${fmt.label(t.strategy)} · ${fill}`;
}

async function loadTrades() {
  const help = byId("journal-trade-help");
  help.classList.remove("is-error");
  replaceChildren(help, "Loading the latest trades…");
  try {
    const list = asList(await api.get("/api/trades?limit=200"), "trades");
    const keep = inputs.trade_id.value;
    const options = [el("option", { value: "" }, "General note (no trade)")];
    for (const t of list) {
      tradesById.set(String(t.id), t);
      options.push(el("option", { value: String(t.id) }, tradeText(t)));
    }
    replaceChildren(inputs.trade_id, options);
    if (keep) selectTrade(keep);
    help.textContent = list.length
      ? `Pick one of the latest ${list.length} trades, or keep "General note".`
      : "No trades yet: this entry will be a general note.";
  } catch (exc) {
    help.classList.add("is-error");
    replaceChildren(help, [
      `Could not load trades (${exc.message}). You can still write a general note. `,
      el("button", { type: "button", class: "btn btn-link", on: { click: loadTrades } }, "Retry"),
    ]);
  }
}

/** Select a trade, adding an option for it when it is older than the loaded list. */
function selectTrade(id, entry = null) {
  const value = id === null || id === undefined ? "" : String(id);
  if (value && ![...inputs.trade_id.options].some((o) => o.value === value)) {
    const described = entry ? `${fmt.label(entry.strategy)} · ${entry.symbol || ""} · trade ${value}` : `Trade ${value}`;
    inputs.trade_id.appendChild(el("option", { value }, described));
  }
  inputs.trade_id.value = value;
}

// ---- validation and field errors --------------------------------------------------------

function clearErrors() {
  for (const name of Object.keys(inputs)) setFieldError(name, "");
  const formError = byId("journal-form-error");
  formError.hidden = true;
  formError.textContent = "";
}

function setFieldError(name, message) {
  return fieldError(inputs, name, message);
}

function showFormError(message) {
  const box = byId("journal-form-error");
  box.textContent = message;
  box.hidden = false;
}

function integerIn(raw, low, high) {
  const text = String(raw).trim();
  if (!/^-?\d+$/.test(text)) return null;
  const value = Number(text);
  return value >= low && value <= high ? value : null;
}

/** Read the form; returns {body, errors}. */
function readForm() {
  const errors = {};
  const body = { trade_id: inputs.trade_id.value || null };
  for (const name of TEXT_FIELDS) {
    body[name] = inputs[name].value.trim() || null;
    if (body[name] && body[name].length > MAX_TEXT) errors[name] = `Keep it under ${MAX_TEXT} characters (now ${body[name].length}).`;
  }
  if (!TEXT_FIELDS.some((name) => body[name])) {
    errors.entry_reason = "Write at least an entry reason, an exit reason or a lesson.";
  }
  const confidence = inputs.confidence_level.value;
  if (confidence === "") errors.confidence_level = "Give your confidence from 1 to 10.";
  else {
    body.confidence_level = integerIn(confidence, 1, 10);
    if (body.confidence_level === null) errors.confidence_level = "Confidence must be a whole number from 1 to 10.";
  }
  const rating = inputs.rating.value;
  if (rating === "") errors.rating = "Rate the trade from 1 to 5.";
  else {
    body.rating = integerIn(rating, 1, 5);
    if (body.rating === null) errors.rating = "Rating must be a whole number from 1 to 5.";
  }
  return { body, errors };
}

// ---- form modes -------------------------------------------------------------------------

function resetForm() {
  editing = null;
  form.reset();
  inputs.trade_id.value = "";
  clearErrors();
  byId("journal-form-title").textContent = "New entry";
  byId("journal-editing").hidden = true;
  byId("journal-submit").textContent = "Save entry";
  byId("journal-cancel").hidden = true;
}

function startEdit(entry) {
  resetForm();
  editing = entry;
  selectTrade(entry.trade_id, entry);
  for (const name of TEXT_FIELDS) inputs[name].value = entry[name] || "";
  inputs.confidence_level.value = entry.confidence_level ?? "";
  inputs.rating.value = entry.rating ?? "";
  byId("journal-form-title").textContent = "Edit entry";
  byId("journal-editing").hidden = false;
  byId("journal-submit").textContent = "Update entry";
  byId("journal-cancel").hidden = false;
  form.scrollIntoView({ behavior: "smooth", block: "start" });
  inputs.entry_reason.focus({ preventScroll: true });
}

byId("journal-cancel").addEventListener("click", resetForm);

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  clearErrors();
  const { body, errors } = readForm();
  const names = Object.keys(errors);
  if (names.length) {
    for (const name of names) setFieldError(name, errors[name]);
    inputs[names[0]].focus();
    return;
  }
  const submit = byId("journal-submit");
  submit.disabled = true;
  try {
    if (editing) {
      await api.put(`/api/journal/entry/${encodeURIComponent(editing.id)}`, body);
      showSuccess("Journal entry updated.");
    } else {
      await api.post("/api/journal/entry", body);
      showSuccess("Journal entry saved.");
    }
    resetForm();
    await loadEntries();
  } catch (exc) {
    if (exc instanceof ApiError && exc.field && setFieldError(exc.field, exc.message)) {
      inputs[exc.field].focus();
    } else {
      showFormError(`Not saved: ${exc.message}`);
      showError(`The journal entry was not saved: ${exc.message}`);
    }
  } finally {
    submit.disabled = false;
  }
});

// Clear a field's error as soon as the user changes it.
for (const [name, input] of Object.entries(inputs)) {
  input.addEventListener("input", () => setFieldError(name, ""));
}

// ---- entry list -------------------------------------------------------------------------

function stars(rating) {
  const n = Math.max(0, Math.min(5, Number(rating) || 0));
  return "★".repeat(n) + "☆".repeat(5 - n);
}

function entryTitle(entry) {
  if (entry.trade_id === null || entry.trade_id === undefined || entry.trade_id === "") return "General note";
  const trade = tradesById.get(String(entry.trade_id));
  const parts = [fmt.label(entry.strategy || (trade && trade.strategy)), entry.symbol || (trade && trade.symbol)];
  if (trade) parts.push(`${trade.side} @ ${fmt.price(trade.price)}`);
  return parts.filter((p) => p && p !== fmt.DASH).join(" · ") || `Trade ${entry.trade_id}`;
}

function entryItem(entry) {
  const fields = [["Entry reason", entry.entry_reason], ["Exit reason", entry.exit_reason], ["Lessons learned", entry.lessons_learned]]
    .filter(([, text]) => text)
    .flatMap(([title, text]) => [el("dt", {}, title), el("dd", { class: "journal-text" }, text)]);
  const edited = entry.updated_at && entry.updated_at !== entry.created_at ? ` · edited ${fmt.dateTime(entry.updated_at)}` : "";
  return el("li", { class: "journal-entry", dataset: { entryId: String(entry.id) } }, [
    el("header", { class: "journal-entry-head" }, [
      el("div", {}, [
        el("h3", {}, entryTitle(entry)),
        el("p", { class: "journal-meta" }, `${fmt.dateTime(entry.created_at)}${edited}`),
      ]),
      el("button", { type: "button", class: "btn btn-small", on: { click: () => startEdit(entry) } }, "Edit"),
    ]),
    el("p", { class: "journal-scores" }, [
      el("span", { class: "stars", "aria-hidden": "true" }, stars(entry.rating)),
      el("span", { class: "sr-only" }, `Rating ${entry.rating} of 5.`),
      el("span", { class: "journal-confidence" }, `Confidence ${entry.confidence_level ?? fmt.DASH}/10`),
    ]),
    el("dl", { class: "journal-fields" }, fields),
  ]);
}

function renderEntries() {
  if (entries === null) return;
  const sorted = [...entries].sort((a, b) => String(b.created_at).localeCompare(String(a.created_at)));
  replaceChildren(byId("journal-entries"), sorted.map(entryItem));
  const filtered = filterStrategy.value || filterText.value.trim();
  panelShow(listPanel, sorted.length > 0, filtered ? "No entries match the filter. Clear it to see every entry." : null);
}

let loadNumber = 0;
async function loadEntries() {
  const mine = ++loadNumber;
  if (listPanel.dataset.state !== "ready") panelLoading(listPanel);
  try {
    const url = `/api/journal/entries${query({ strategy: filterStrategy.value, q: filterText.value.trim() })}`;
    const data = await api.get(url);
    if (mine !== loadNumber) return; // a newer filter answered first
    entries = asList(data, "entries");
    renderEntries();
  } catch (exc) {
    if (mine === loadNumber) panelError(listPanel, `Could not load the journal: ${exc.message}`, loadEntries);
  }
}

async function loadStrategyFilter() {
  let names = KNOWN_STRATEGIES;
  try {
    const list = asList(await api.get("/api/strategies/performance"), "strategies");
    if (list.length) names = list.map((s) => s.strategy);
  } catch (exc) {
    // The fixed list of strategy names still works for filtering.
  }
  const options = names.map((name) => el("option", { value: name }, fmt.label(name)));
  replaceChildren(filterStrategy, [el("option", { value: "" }, "All strategies"), ...options]);
}

let searchTimer = null;
filterText.addEventListener("input", () => {
  clearTimeout(searchTimer);
  searchTimer = setTimeout(loadEntries, 300);
});
filterStrategy.addEventListener("change", loadEntries);

loadStrategyFilter();
// Trades first where possible, so entry titles can name the trade's side and price.
loadTrades().finally(() => renderEntries());
loadEntries();
