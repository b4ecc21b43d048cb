// The order ticket, the open-orders table and the "Close" of a position (issue 17), shared by
// the overview and /market. Everything goes through the API (POST /api/orders, the estimate,
// DELETE /api/orders/<id>, POST /api/positions/close); the table follows orders_update.
import { api } from "./api.js";
import { byId, el, labelCells, panelError, panelShow, replaceChildren, td } from "./dom.js";
import * as fmt from "./format.js";
import { confirmAction, showError, showSuccess } from "./notify.js";
import { on } from "./socket.js";

const FIELDS = ["exchange", "symbol", "side", "type", "amount", "amount_in", "price", "stop_price", "tif",
  "take_profit", "stop_loss", "reason"];
const NUMBERS = new Set(["amount", "price", "stop_price", "take_profit", "stop_loss"]);
let exits = []; // [{strategy, asset, stop, take_profit, ...}] from orders_update

/** The stop / take-profit a strategy holds for a position, as text ("" when none is known). */
export function exitText(strategy, asset) {
  const found = exits.find((row) => row.strategy === strategy && row.asset === asset);
  return found ? `${fmt.price(found.stop)} / ${fmt.price(found.take_profit)}` : "";
}

/** The "Close" button of a position row: confirmation, then a market close on each exchange it is held. */
export function closeButton(pos) {
  const held = Object.entries(pos.by_exchange || {}).filter(([, qty]) => Math.abs(qty) > 1e-12);
  return el("button", {
    type: "button", class: "btn btn-small btn-danger", dataset: { closeStrategy: pos.strategy, closeAsset: pos.asset },
    on: { click: () => closePosition(pos, held) },
  }, "Close");
}

async function closePosition(pos, held) {
  const where = held.map(([exchange, qty]) => `${fmt.qty(qty)} on ${exchange}`).join(", ");
  const ok = await confirmAction(`Close ${fmt.label(pos.strategy)}'s ${pos.asset} position at market (${where})? `
    + "It is recorded as the strategy's exit with the reason \"manual close\".",
  { title: "Close position", confirmLabel: "Close at market", danger: true });
  if (!ok) return;
  try {
    for (const [exchange] of held) {
      await api.post("/api/positions/close", { strategy: pos.strategy, asset: pos.asset, exchange });
    }
    showSuccess(`Closing ${fmt.label(pos.strategy)}'s ${pos.asset} position`);
  } catch (exc) {
    showError(`Could not close the position: ${exc.message}`);
  }
}

function form() {
  return byId("order-form");
}

function body() {
  const out = {};
  for (const name of FIELDS) {
    const input = form().elements.namedItem(name);
    if (!input || input.closest("[hidden]")) continue;
    const value = String(input.value).trim();
    if (value === "") continue;
    out[name] = NUMBERS.has(name) ? Number(value) : value;
  }
  return out;
}

function showTypeFields() {
  const type = form().elements.namedItem("type").value;
  for (const box of form().querySelectorAll("[data-for-types]")) {
    box.hidden = !box.dataset.forTypes.split(" ").includes(type);
  }
}

function clearErrors() {
  for (const node of form().querySelectorAll(".field-error")) {
    node.hidden = true;
    node.textContent = "";
  }
  const general = byId("order-form-error");
  general.hidden = true;
  general.textContent = "";
}

function showRefusal(exc) {
  const target = exc.field ? document.getElementById(`error-${exc.field}`) : null;
  const node = target || byId("order-form-error");
  node.textContent = exc.message;
  node.hidden = false;
}

async function estimate() {
  clearErrors();
  const answer = await api.post("/api/orders/estimate", body());
  byId("order-estimate").textContent = answer.estimate.message;
  return answer.estimate;
}

async function submit(event) {
  event.preventDefault();
  let guess;
  try {
    guess = await estimate();
  } catch (exc) {
    showRefusal(exc);
    return;
  }
  const sent = body();
  const ok = await confirmAction(`${sent.side} ${sent.amount} ${sent.amount_in === "quote" ? "USDT of" : ""} `
    + `${sent.symbol} on ${sent.exchange} (${sent.type}, ${sent.tif || "GTC"}): ${guess.message}`,
  { title: "Place this paper order?", confirmLabel: "Place order" });
  if (!ok) return;
  try {
    const answer = await api.post("/api/orders", sent);
    showSuccess(`Order ${answer.order.id} placed`);
  } catch (exc) {
    showRefusal(exc);
  }
}

function orderRow(order) {
  const cancel = el("button", {
    type: "button", class: "btn btn-small", dataset: { cancelOrder: order.id },
    on: { click: () => cancelOrder(order.id) },
  }, "Cancel");
  const price = order.type.startsWith("stop") ? `stop ${fmt.price(order.stop_price)}` : fmt.price(order.price);
  const status = order.stale ? `${order.status} (stale: no trades feed)` : order.status.replace("_", " ");
  return el("tr", { dataset: { orderId: order.id, status: order.status } }, [
    td(fmt.time(order.placed_ts * 1000), "nowrap", fmt.dateTime(order.placed_ts * 1000)),
    td(order.id, null, order.reason || null),
    td(order.symbol, "nowrap"),
    td(order.exchange),
    el("td", {}, el("span", { class: `badge badge-${order.side === "sell" ? "sell" : "buy"}` }, order.side)),
    td(`${order.type} ${order.tif}`),
    td(price, "num"),
    td(`${fmt.qty(order.filled)} / ${fmt.qty(order.qty)}`, "num order-filled"),
    td(order.queue_ahead === null || order.queue_ahead === undefined ? fmt.DASH : fmt.qty(order.queue_ahead), "num"),
    td(status, "order-status"),
    el("td", {}, cancel),
  ]);
}

function renderOrders(payload) {
  const panel = byId("orders-panel");
  if (!payload || !Array.isArray(payload.open)) return;
  exits = Array.isArray(payload.exits) ? payload.exits : [];
  replaceChildren(byId("orders-body"), payload.open.map(orderRow));
  labelCells(byId("orders-body"));
  const finished = (payload.finished || []).slice(0, 5)
    .map((o) => `${o.id} ${o.side} ${o.symbol} ${o.status.replace("_", " ")} (${fmt.qty(o.filled)} of ${fmt.qty(o.qty)})`);
  byId("orders-finished").textContent = finished.length ? `Latest finished: ${finished.join("; ")}` : "";
  byId("orders-note").textContent = payload.trade_feed ? "" : "this market source has no trades feed: orders rest, marked stale";
  panelShow(panel, payload.open.length > 0 || finished.length > 0);
}

async function cancelOrder(id) {
  try {
    const answer = await api.del(`/api/orders/${encodeURIComponent(id)}`);
    const order = answer.order;
    showSuccess(order.status === "cancelled" ? `Order ${id} cancelled` : `Order ${id} had already ${order.status.replace("_", " ")}`);
  } catch (exc) {
    showError(`Could not cancel ${id}: ${exc.message}`);
  }
}

function fillSelect(select, values) {
  replaceChildren(select, values.map((value) => el("option", { value }, value)));
}

/** Wire the ticket and the table on a page that holds them. */
export async function initOrderTicket() {
  if (!document.getElementById("order-form")) return;
  showTypeFields();
  form().elements.namedItem("type").addEventListener("change", showTypeFields);
  form().addEventListener("submit", submit);
  byId("order-estimate-button").addEventListener("click", () => estimate().catch(showRefusal));
  on("orders_update", renderOrders);
  try {
    const status = await api.get("/api/status");
    fillSelect(byId("order-exchange"), status.exchanges || []);
    fillSelect(byId("order-symbol"), status.symbols || []);
    renderOrders(await api.get("/api/orders"));
  } catch (exc) {
    panelError(byId("orders-panel"), `Could not load the orders: ${exc.message}`, initOrderTicket);
  }
}
