// The alerts page's two forms. The rule form shows the fields each condition takes with their
// defaults, offers the live mid as the price level until the user takes the field over, checks
// the rule as the server checks it and shows the server's field errors beside the field. The
// test-notification form sends a message through every channel. The page (alerts.js) loads the
// symbols, exchanges and strategies and shows the rule once it is added.
import { api, ApiError } from "./api.js";
import { byId, el, fieldError, replaceChildren } from "./dom.js";
import * as fmt from "./format.js";
import { showError } from "./notify.js";
import { last, on } from "./socket.js";
import { CONDITIONS, fieldSpec, LEVELS, LIMITS } from "./catalog.js";

// Every condition, its fields, their bounds and the form's starting values come from the
// server's table (bot/requests.py models, served as the page's catalog), so the form checks
// exactly what the server checks.
const CONDITION_FIELDS = Object.fromEntries([...CONDITIONS].map(([name, row]) => [name, row.fields.map((f) => f.name)]));
const DEFAULTS = Object.fromEntries([...CONDITIONS].map(([name, row]) => [
  name, Object.fromEntries(row.fields.filter((f) => f.suggested !== undefined).map((f) => [f.name, String(f.suggested)])),
]));
const CONDITION_HELP = Object.fromEntries([...CONDITIONS].map(([name, row]) => [name, row.help]));
const MAX_WINDOW_MINUTES = fieldSpec("pct_move", "window_minutes").max;
const MAX_COOLDOWN_MINUTES = fieldSpec(null, "cooldown_minutes").max;
const MAX_NOTE_CHARS = fieldSpec(null, "note").max_length;
const MAX_MESSAGE_CHARS = LIMITS.message_chars;
const MAX_COUNT = fieldSpec("loss_streak", "count").max;
const DRAWDOWN_BELOW = fieldSpec("drawdown", "pct").max_exclusive;

// ---- words --------------------------------------------------------------------------------

/** 61000 -> "61,000", 0.41235 -> "0.41235": a user's own figure, as exact as they typed it. */
export function plain(value, digits = 8) {
  if (value === null || value === undefined || !Number.isFinite(Number(value))) return fmt.DASH;
  return Number(value).toLocaleString("en-US", { maximumFractionDigits: digits });
}

/** "BTC/USDT" -> "BTC": a whale rule watches an asset, named by any of its symbols. */
export function baseAsset(symbol) {
  return String(symbol || "").split("/")[0];
}

// ---- form helpers -------------------------------------------------------------------------

function fieldsOf(condition) {
  return CONDITION_FIELDS[condition] || [];
}

function inputPrice(value) {
  const digits = value >= 1000 ? 2 : value >= 1 ? 4 : 6;
  return String(Number(value.toFixed(digits)));
}

function fillSelect(select, options, keep = true) {
  const chosen = select.value;
  replaceChildren(select, options.map(([value, text]) => el("option", { value }, text)));
  if (keep && options.some(([value]) => value === chosen)) select.value = chosen;
}

function showFormError(id, message) {
  const box = byId(id);
  box.textContent = message;
  box.hidden = !message;
}

/** A number from an input: {value} or {error: "missing" | "invalid"}. */
function numberFrom(input) {
  if (input.validity && input.validity.badInput) return { error: "invalid" };
  const text = String(input.value).trim();
  if (text === "") return { error: "missing" };
  const value = Number(text);
  return Number.isFinite(value) ? { value } : { error: "invalid" };
}

/**
 * Wire up both forms. getSymbols() gives the page's current symbols; onRuleCreated(rule) is
 * called with the server's rule once one is added (before the form clears). Returns what the
 * page needs to feed the form its choices once they are loaded.
 */
export function initAlertForms({ getSymbols, onRuleCreated }) {
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
  const notifyForm = byId("notify-form");
  const notifyInputs = { message: byId("notify-message"), level: byId("notify-level") };

  // Which conditions show each field, and the inputs' bounds, from the same table.
  for (const node of form.querySelectorAll("[data-field]")) {
    const takes = [...CONDITIONS.keys()].filter((c) => node.dataset.field.split(" ").some((f) => CONDITION_FIELDS[c].includes(f)));
    node.dataset.for = takes.join(" ");
  }
  for (const [name, input] of Object.entries(inputs)) {
    const spec = [...CONDITIONS.keys()].map((c) => fieldSpec(c, name)).find((s) => s.name) || fieldSpec(null, name);
    if (spec.max !== undefined && spec.max < 1e15) input.max = String(spec.max);
    if (spec.max_length !== undefined) input.maxLength = spec.max_length;
  }
  notifyInputs.message.maxLength = MAX_MESSAGE_CHARS;

  let market = last("market_update") || null;
  const touched = new Set(); // fields the user typed in since the last reset: defaults leave them alone
  let symbolChoicesFor = null; // the condition the symbol options were built for

  // ---- the rule form ----------------------------------------------------------------------

  function currentMid(symbol, exchange) {
    if (!market || !Array.isArray(market.quotes) || !symbol) return null;
    const mids = market.quotes
      .filter((q) => q.symbol === symbol && (!exchange || q.exchange === exchange))
      .map((q) => (q.bid + q.ask) / 2)
      .filter(Number.isFinite);
    return mids.length ? mids.reduce((sum, mid) => sum + mid, 0) / mids.length : null;
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

  function fillSymbolChoices(condition) {
    const symbols = getSymbols();
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
    return fieldError(fields, name, message, prefix);
  }

  function clearErrors() {
    for (const name of Object.keys(inputs)) setFieldError(name, "");
    showFormError("alert-form-error", "");
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
        positive("pct", "Enter the drawdown in %.", `The drawdown must be above 0% and below ${DRAWDOWN_BELOW}%.`, (v) => v < DRAWDOWN_BELOW);
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
      onRuleCreated(answer.rule);
      resetForm();
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

  // ---- test notification ------------------------------------------------------------------

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

  return {
    /** The rule form's general error line ("" hides it), e.g. when the choices did not load. */
    showError: (message) => showFormError("alert-form-error", message),
    setExchanges(exchanges) {
      fillSelect(inputs.exchange, [["", "Any (mean of all)"], ...exchanges.map((x) => [x, x])]);
    },
    setStrategies(strategies) {
      fillSelect(inputs.strategy, strategies.map((s) => [s, fmt.label(s)]));
    },
    strategiesFailed(message) {
      fillSelect(inputs.strategy, [["", "Strategies not loaded"]]);
      setFieldError("strategy", message);
    },
    /** Rebuild the choices and defaults for the chosen condition (after getSymbols() changed). */
    refresh: () => applyCondition(),
  };
}
