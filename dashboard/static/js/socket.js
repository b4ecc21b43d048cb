// The page's one Socket.IO connection, a tiny event bus over it, and the connection
// indicator in the status bar. Page modules subscribe with on("portfolio_update", fn).
import { el, replaceChildren } from "./dom.js";
import { localTime } from "./format.js";

export const SERVER_EVENTS = [
  "portfolio_update", "trades_update", "strategies_update", "alerts_update", "market_update",
  "orders_update", "bot_status", "trade_executed", "notification",
];

const SERVER_CLOSE_RETRY_MS = 3000;
const handlers = new Map();
const lastPayload = new Map();

/** Subscribe to a bus event; returns a function that unsubscribes. */
export function on(event, handler) {
  if (!handlers.has(event)) handlers.set(event, new Set());
  handlers.get(event).add(handler);
  return () => handlers.get(event).delete(handler);
}

/** Deliver an event to its subscribers; one failing subscriber does not stop the others. */
export function emit(event, payload) {
  lastPayload.set(event, payload);
  for (const handler of handlers.get(event) || []) {
    try {
      handler(payload);
    } catch (exc) {
      console.warn(`handler for ${event} failed:`, exc);
    }
  }
}

/** The last payload seen for an event (or undefined). */
export function last(event) {
  return lastPayload.get(event);
}

// Connection state: connecting | connected | reconnecting | disconnected.
let connectionState = "connecting";
export function connectionStatus() {
  return connectionState;
}

function renderConnection(state, detail = "") {
  connectionState = state;
  document.documentElement.dataset.connection = state;
  const box = document.getElementById("status-connection");
  if (!box) return;
  box.dataset.state = state;
  const words = {
    connecting: "Connecting…",
    connected: "Live",
    reconnecting: "Reconnecting…",
    disconnected: "Disconnected",
  };
  const content = [el("span", { class: "dot", "aria-hidden": "true" }), el("span", {}, words[state] + (detail ? ` ${detail}` : ""))];
  if (state === "disconnected" || state === "reconnecting") {
    content.push(el("button", { type: "button", class: "btn btn-link", on: { click: reconnect } }, "Reconnect now"));
  }
  replaceChildren(box, content);
}

function markUpdated() {
  const stamp = document.getElementById("status-updated");
  if (stamp) stamp.textContent = localTime();
}

let socket = null;

function connect() {
  if (typeof window.io !== "function") {
    renderConnection("disconnected", "(socket library missing)");
    return null;
  }
  const client = window.io({ reconnection: true, reconnectionDelay: 1000, reconnectionDelayMax: 5000, timeout: 10000 });
  client.on("connect", () => { renderConnection("connected"); emit("connection", "connected"); });
  client.on("disconnect", (reason) => {
    if (reason === "io client disconnect") {
      renderConnection("disconnected");
    } else if (reason === "io server disconnect") {
      // The server closed the socket on purpose (a restart, say), which stops the client's own
      // retries; try again shortly so the page comes back by itself when the bot does.
      renderConnection("reconnecting");
      setTimeout(() => { if (!client.connected) client.connect(); }, SERVER_CLOSE_RETRY_MS);
    } else {
      renderConnection("reconnecting");
    }
    emit("connection", "disconnected");
  });
  client.on("connect_error", () => {
    if (connectionState !== "connected") renderConnection(client.active ? "reconnecting" : "disconnected");
  });
  client.io.on("reconnect_attempt", (attempt) => renderConnection("reconnecting", `(attempt ${attempt})`));
  client.io.on("reconnect_failed", () => renderConnection("disconnected"));
  for (const event of SERVER_EVENTS) {
    client.on(event, (payload) => {
      markUpdated();
      emit(event, payload);
    });
  }
  return client;
}

/** Drop the current connection attempt and connect again at once. */
export function reconnect() {
  if (!socket) {
    socket = connect();
    return;
  }
  renderConnection("connecting");
  socket.disconnect();
  socket.connect();
}

export function getSocket() {
  if (!socket) socket = connect();
  return socket;
}

renderConnection("connecting");
// Connect once every module of the page has subscribed (module scripts run before this task).
setTimeout(getSocket, 0);
