// The shared layout: the status bar (market source, bot state, exchange health, market time)
// and notification toasts. Every page module imports this first.
import { el, replaceChildren } from "./dom.js";
import { dateTime, label } from "./format.js";
import { showToast } from "./notify.js";
import { on } from "./socket.js";

const STATE_WORDS = { running: "Running", paused: "Paused", stopped: "Stopped" };

let botStatus = readInitialStatus();

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
  return botStatus;
}

function renderStatus() {
  const state = botStatus.state || "unknown";
  const reason = botStatus.pause_reason || botStatus.reason || "";
  const bot = document.getElementById("status-bot");
  if (bot) {
    bot.dataset.state = state;
    const words = STATE_WORDS[state] || label(state);
    replaceChildren(bot, [el("span", { class: "dot", "aria-hidden": "true" }), el("span", { class: "status-value" }, words)]);
    if (reason) bot.appendChild(el("span", { class: "status-reason" }, ` – ${reason}`));
  }
  const market = document.getElementById("status-market");
  if (market && botStatus.market_description) market.textContent = botStatus.market_description;
  const clock = document.getElementById("status-market-time");
  if (clock && botStatus.market_time) clock.textContent = dateTime(botStatus.market_time);
  const feeds = document.getElementById("status-feeds");
  if (feeds && botStatus.health && typeof botStatus.health === "object") {
    const bad = Object.entries(botStatus.health).filter(([, h]) => h && h.state && h.state !== "live");
    feeds.dataset.state = bad.length ? "degraded" : "live";
    feeds.textContent = bad.length
      ? bad.map(([exchange, h]) => `${exchange} ${h.state}${h.reason ? ` (${h.reason})` : ""}`).join(", ")
      : "All exchanges live";
  }
}

on("bot_status", (payload) => {
  if (!payload || typeof payload !== "object") return;
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
  if (payload && payload.as_of) {
    botStatus = { ...botStatus, market_time: payload.as_of };
    const clock = document.getElementById("status-market-time");
    if (clock) clock.textContent = dateTime(payload.as_of);
  }
});

on("notification", (payload) => {
  if (!payload) return;
  const message = typeof payload === "string" ? payload : payload.message;
  if (message) showToast(message, payload.level || "info");
});

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
