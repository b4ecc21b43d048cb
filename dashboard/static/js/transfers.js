// The transfers panel (overview): transfers between exchanges, newest first, from GET /api/transfers.
// Reloaded when a portfolio_update shows the coins in transit changed (a transfer sent or landed).
import { api } from "./api.js";
import { byId, el, labelCells, panelError, panelLoading, panelShow, replaceChildren, td } from "./dom.js";
import * as fmt from "./format.js";

const panel = byId("transfers-panel");
const STATUS_TEXT = { in_transit: "in transit", arrived: "arrived", cancelled: "cancelled" };
let shownKey = null;
let loading = false;

function transferRow(t) {
  const status = STATUS_TEXT[t.status] || t.status || fmt.DASH;
  return el("tr", { dataset: { transferId: String(t.id) } }, [
    td(fmt.stamp(t.sent_at), "nowrap", fmt.dateTime(t.sent_at)),
    td(t.asset),
    td(t.from),
    td(t.to),
    td(fmt.qty(t.amount), "num"),
    td(`${fmt.assetAmount(t.fee, t.asset)} ${t.asset || ""}`.trim(), "num nowrap"),
    td(fmt.money(t.fee_usdt), "num"),
    td(fmt.label(t.strategy)),
    el("td", { title: t.reason || null }, el("span", { class: `badge badge-${t.status === "cancelled" ? "sell" : "buy"}` }, status)),
    td(fmt.stamp(t.landed_at || t.arrival_at), "nowrap", fmt.dateTime(t.landed_at || t.arrival_at)),
  ]);
}

function render(data) {
  const rows = Array.isArray(data && data.transfers) ? data.transfers : [];
  replaceChildren(byId("transfers-body"), rows.map(transferRow));
  labelCells(byId("transfers-body"));
  const moving = Array.isArray(data && data.in_transit) ? data.in_transit.length : 0;
  byId("transfers-note").textContent = rows.length ? `${moving} in transit` : "";
  panelShow(panel, rows.length > 0);
}

/** Load the table (shows the loading state the first time only). */
export async function loadTransfers(first = false) {
  if (loading) return;
  loading = true;
  if (first) panelLoading(panel);
  try {
    render(await api.get("/api/transfers"));
  } catch (exc) {
    panelError(panel, `Could not load the transfers: ${exc.message}`, () => loadTransfers(true));
  } finally {
    loading = false;
  }
}

/** A portfolio_update: reload when the transfers in transit are not those shown. */
export function transfersMaybeChanged(portfolio) {
  if (!portfolio || !Array.isArray(portfolio.in_transit)) return;
  const key = portfolio.in_transit.map((t) => t.ref).join(",");
  if (shownKey !== null && key === shownKey) return;
  const first = shownKey === null;
  shownKey = key;
  if (!first) loadTransfers();
}
