// Exchange streams in the status bar: per exchange, stream or REST, messages per second, age of
// the last message and reconnects (GET /api/status "health", then every market_update's health).
// Hidden on a source without streams (the simulator's health has no "feed").
import { el, replaceChildren } from "./dom.js";
import { on } from "./socket.js";

function age(seconds) {
  if (seconds === null || seconds === undefined) return "–";
  return seconds < 10 ? `${seconds.toFixed(1)} s` : `${Math.round(seconds)} s`;
}

/** One exchange's stream figures as a short text and its state ("stream", "rest" or "none"). */
export function describeFeed(exchange, h) {
  if (h.feed === "stream") {
    const rate = h.messages_per_second === null ? "–" : h.messages_per_second.toFixed(1);
    return [`${exchange} stream ${rate}/s, last ${age(h.last_message_age_seconds)}, reconnects ${h.reconnects}`, "stream"];
  }
  const why = h.stream_problem ? ` (${h.stream_problem})` : "";
  const reconnects = h.reconnects ? `, reconnects ${h.reconnects}` : "";
  return [`${exchange} ${h.feed === "rest" ? "REST" : "no data"}${why}${reconnects}`, h.feed || "none"];
}

export function renderStreams(health) {
  const item = document.getElementById("status-streams-item");
  const box = document.getElementById("status-streams");
  if (!item || !box || !health || typeof health !== "object") return;
  const entries = Object.entries(health).filter(([, h]) => h && h.feed);
  item.hidden = entries.length === 0;
  replaceChildren(box, entries.map(([exchange, h], i) => {
    const [text, state] = describeFeed(exchange, h);
    return el("span", { class: "stream-feed", dataset: { exchange, feed: state } }, (i ? " · " : "") + text);
  }));
}

on("market_update", (payload) => { if (payload && payload.health) renderStreams(payload.health); });
on("bot_status", (payload) => { if (payload && payload.health) renderStreams(payload.health); });
fetch("/api/status", { credentials: "same-origin", headers: { Accept: "application/json" } })
  .then((r) => (r.ok ? r.json() : null))
  .then((body) => { if (body) renderStreams(body.health); })
  .catch(() => {});
