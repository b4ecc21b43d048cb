// The shared layout: the status bar (market source, bot state, exchange health, market time),
// notification toasts and, when the user turns them on, browser notifications. Every page module
// imports this first.
import { el, replaceChildren } from "./dom.js";
import { dateTime, label, setMarketNow } from "./format.js";
import { showToast } from "./notify.js";
import { on } from "./socket.js";
import "./streams.js"; // the exchange streams item of the status bar

const STATE_WORDS = { running: "Running", paused: "Paused", stopped: "Stopped" };

let botStatus = readInitialStatus();
setMarketNow(botStatus.market_time);

function readInitialStatus() {
  const bar = document.getElementById("statusbar");
  if (!bar || !bar.dataset.status) return {};
  try {
    return JSON.parse(bar.dataset.status) || {};
  } catch (exc) {
    return {};
  }
}

/** The latest bot status known to the page (server-rendered first, then from bot_status). */
export function currentStatus() {
  return heard ? botStatus : { ...botStatus, state: "unknown" };
}

// Until the page hears from the bot again after losing it, the bot's state is unknown: the
// status bar says so and <html data-heard="no"> greys every figure (app.css).
let heard = true;

function renderStatus() {
  const state = heard ? botStatus.state || "unknown" : "unknown";
  const reason = botStatus.pause_reason || botStatus.reason || "";
  const bot = document.getElementById("status-bot");
  if (bot) {
    bot.dataset.state = state;
    const words = heard ? STATE_WORDS[state] || label(state) : "Unknown";
    replaceChildren(bot, [el("span", { class: "dot", "aria-hidden": "true" }), el("span", { class: "status-value" }, words)]);
    if (!heard) bot.appendChild(el("span", { class: "status-reason" }, " – no contact with the bot; figures are as last heard"));
    else if (reason) bot.appendChild(el("span", { class: "status-reason" }, ` – ${reason}`));
  }
  const market = document.getElementById("status-market");
  if (market && botStatus.market_description) market.textContent = botStatus.market_description;
  const clock = document.getElementById("status-market-time");
  if (clock && botStatus.market_time) {
    setMarketNow(botStatus.market_time);
    clock.textContent = dateTime(botStatus.market_time);
  }
  renderFeeds(botStatus.health);
  renderScenario(botStatus.scenario);
}

/** The stress scenario in the status bar: its name and phase while it plays, hidden when none is set. */
function renderScenario(scenario) {
  const item = document.getElementById("status-scenario-item");
  const text = document.getElementById("status-scenario");
  if (!item || !text) return;
  if (!scenario || typeof scenario !== "object" || !scenario.name) {
    item.hidden = true;
    return;
  }
  item.hidden = false;
  text.dataset.state = scenario.state || "none";
  let words = `${scenario.name}: `;
  if (scenario.state === "active") words += `${scenario.phase}${scenario.phase_says ? ` – ${scenario.phase_says}` : ""}`;
  else if (scenario.state === "scheduled") words += `starts ${dateTime(scenario.starts_at)}`;
  else words += `over since ${dateTime(scenario.ends_at)}`;
  if (scenario.state === "active" && typeof scenario.usdt_usd === "number") {
    words += ` · 1 USDT = ${scenario.usdt_usd.toFixed(4)} USD (figures stay in USDT)`;
  }
  text.textContent = words;
  item.title = `Stress scenario ${scenario.name}: ${scenario.summary || ""} (${dateTime(scenario.starts_at)} to ${dateTime(scenario.ends_at)} market time)`;
}

/** Exchange feeds in the status bar: state, why, and how old the data is (from any health map). */
function renderFeeds(health) {
  const feeds = document.getElementById("status-feeds");
  if (!feeds || !health || typeof health !== "object") return;
  const entries = Object.entries(health).filter(([, h]) => h && h.state);
  const bad = entries.filter(([, h]) => h.state !== "live");
  const oldest = Math.max(0, ...entries.map(([, h]) => Number(h.age_seconds) || 0));
  const age = (seconds) => (seconds >= 1 ? ` · data ${seconds.toFixed(seconds < 10 ? 1 : 0)}s old` : "");
  feeds.dataset.state = bad.length ? "degraded" : "live";
  feeds.textContent = bad.length
    ? bad.map(([exchange, h]) => `${exchange} ${h.state}${h.reason ? ` (${h.reason})` : ""}${age(Number(h.age_seconds) || 0)}`).join(", ")
    : `All exchanges live${age(oldest)}`;
}

on("connection", (state) => {
  if (state !== "disconnected") return; // "connected" alone is not news from the bot: bot_status is
  heard = false;
  document.documentElement.dataset.heard = "no";
  renderStatus();
  document.dispatchEvent(new CustomEvent("bot-status", { detail: currentStatus() }));
});

on("bot_status", (payload) => {
  if (!payload || typeof payload !== "object") return;
  heard = true;
  document.documentElement.dataset.heard = "yes";
  // A change event may carry only {state, reason}; keep what it does not mention.
  botStatus = { ...botStatus, ...payload };
  if (payload.state && payload.state !== "paused" && payload.state !== "stopped") {
    botStatus.pause_reason = "";
    botStatus.reason = "";
  }
  renderStatus();
  document.dispatchEvent(new CustomEvent("bot-status", { detail: botStatus }));
});

on("market_update", (payload) => {
  if (payload && payload.health) {
    botStatus = { ...botStatus, health: payload.health };
    renderFeeds(payload.health);
  }
  if (payload && "scenario" in payload) {
    botStatus = { ...botStatus, scenario: payload.scenario };
    renderScenario(payload.scenario);
  }
  if (payload && payload.as_of) {
    botStatus = { ...botStatus, market_time: payload.as_of };
    setMarketNow(payload.as_of);
    const clock = document.getElementById("status-market-time");
    if (clock) clock.textContent = dateTime(payload.as_of);
  }
});

on("notification", (payload) => {
  if (!payload) return;
  const message = typeof payload === "string" ? payload : payload.message;
  if (message) showToast(message, payload.level || "info");
  if (message && browserNotificationState() === "on") showBrowserNotification(payload, message);
});

// ---- browser notifications -------------------------------------------------------------
// Off until the user clicks Enable (permission is only ever requested from that click); the
// choice is kept in localStorage. Toasts show either way. A status-bar control on every page,
// and a fuller one wherever the page has a [data-browser-notify="full"] box (the alerts page).

const BROWSER_NOTIFY_KEY = "dashboard.browserNotifications"; // "on" | "off"
const BROWSER_NOTIFY_WORDS = {
  on: ["on", "Each notification also pops up as a browser notification, even when this tab is in the background. This browser remembers the choice."],
  off: ["off", "Turn them on to get a browser notification for each alert and message, even when this tab is in the background. The browser asks for permission once."],
  denied: ["blocked", "The browser blocks notifications for this site, so they show as toasts on the page only. Allow notifications in the site settings to use them."],
  unsupported: ["not supported", "This browser cannot show notifications, so they show as toasts on the page only."],
};

function storedChoice() {
  try {
    return window.localStorage.getItem(BROWSER_NOTIFY_KEY) === "on";
  } catch (exc) {
    return false; // storage switched off: the choice lasts for this page only
  }
}

let choiceThisPage = null;

function storeChoice(enabled) {
  choiceThisPage = enabled;
  try {
    window.localStorage.setItem(BROWSER_NOTIFY_KEY, enabled ? "on" : "off");
  } catch (exc) {
    // Private mode or storage disabled: keep the choice in memory.
  }
}

/** on | off | denied (the browser refuses) | unsupported (no Notification API). */
export function browserNotificationState() {
  if (typeof window.Notification !== "function") return "unsupported";
  const permission = window.Notification.permission;
  if (permission === "denied") return "denied";
  const chosen = choiceThisPage === null ? storedChoice() : choiceThisPage;
  return chosen && permission === "granted" ? "on" : "off";
}

function askPermission(api) {
  // Promise form in current browsers, callback form in old Safari.
  return new Promise((resolve, reject) => {
    const answer = api.requestPermission((permission) => resolve(permission));
    if (answer && typeof answer.then === "function") answer.then(resolve, reject);
  });
}

async function enableBrowserNotifications() {
  const api = window.Notification;
  if (typeof api !== "function") {
    renderBrowserNotify();
    return;
  }
  let permission = api.permission;
  if (permission === "default") {
    try {
      permission = await askPermission(api);
    } catch (exc) {
      permission = api.permission;
    }
  }
  storeChoice(permission === "granted");
  renderBrowserNotify();
  if (permission === "granted") showToast("Browser notifications are on.", "success");
  else if (permission === "denied") showToast(BROWSER_NOTIFY_WORDS.denied[1], "warning");
  else showToast("Browser notifications stay off: the permission was not given.", "info");
}

function disableBrowserNotifications() {
  storeChoice(false);
  renderBrowserNotify();
}

function showBrowserNotification(payload, message) {
  const kind = payload && typeof payload === "object" && payload.kind ? label(payload.kind) : "Notification";
  const options = { body: message, icon: "/static/img/favicon.svg" };
  // One tag per notification: several open dashboards then show it once, not once per tab.
  if (payload && payload.id) options.tag = String(payload.id);
  try {
    const note = new window.Notification(`${kind} · Paper trading bot`, options);
    note.addEventListener("click", () => { window.focus(); note.close(); });
  } catch (exc) {
    // Some mobile browsers only allow notifications from a service worker; the toast showed.
    console.warn("browser notification failed:", exc);
  }
}

function browserNotifyButton(state) {
  if (state === "on") {
    return el("button", { type: "button", class: "btn btn-link", dataset: { action: "disable" },
      on: { click: disableBrowserNotifications } }, "Turn off");
  }
  if (state === "off") {
    return el("button", { type: "button", class: "btn btn-link", dataset: { action: "enable" },
      on: { click: enableBrowserNotifications } }, "Enable");
  }
  return null;
}

function renderBrowserNotify() {
  const state = browserNotificationState();
  const [word, sentence] = BROWSER_NOTIFY_WORDS[state];
  let item = document.getElementById("status-browser-notify");
  const bar = document.getElementById("statusbar");
  if (!item && bar) {
    item = el("div", { class: "status-item status-optional", id: "status-browser-notify", title: "Browser notifications" });
    bar.appendChild(item);
  }
  if (item) {
    item.dataset.state = state;
    item.title = `Browser notifications: ${word}. ${sentence}`;
    replaceChildren(item, [el("span", { class: "status-label" }, "Notify"),
      el("span", { class: "browser-notify-word" }, word), browserNotifyButton(state)]);
  }
  for (const box of document.querySelectorAll('[data-browser-notify="full"]')) {
    box.dataset.state = state;
    const button = browserNotifyButton(state);
    if (button) button.className = state === "off" ? "btn btn-small btn-primary" : "btn btn-small";
    replaceChildren(box, [
      el("div", { class: "browser-notify-text" }, [
        el("p", { class: "browser-notify-title" }, ["Browser notifications: ", el("strong", { class: "browser-notify-word" }, word)]),
        el("p", { class: "field-help" }, sentence),
      ]),
      button,
    ]);
  }
}

window.addEventListener("storage", (event) => {
  if (event.key === BROWSER_NOTIFY_KEY) {
    choiceThisPage = null;
    renderBrowserNotify();
  }
});
// Follow a permission changed in the browser's site settings while the page is open.
try {
  navigator.permissions.query({ name: "notifications" }).then((status) => {
    status.addEventListener("change", renderBrowserNotify);
  }, () => {});
} catch (exc) {
  // No Permissions API (or no "notifications" in it): the control updates on the next click.
}

/** Let pages merge a status they fetched or received from a control endpoint. */
export function updateStatus(partial) {
  botStatus = { ...botStatus, ...partial };
  if (partial.state && partial.state !== "paused" && partial.state !== "stopped") {
    botStatus.pause_reason = "";
    botStatus.reason = "";
  }
  renderStatus();
  document.dispatchEvent(new CustomEvent("bot-status", { detail: botStatus }));
}

renderStatus();
renderBrowserNotify();
import("./speed_control.js");
