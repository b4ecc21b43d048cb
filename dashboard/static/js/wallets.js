// Wallets page: balances per exchange and asset with who reserves what, shorts and their
// margin, coins in transit and inventory drift against the start (GET /api/wallets).
import "./layout.js";
import { api } from "./api.js";
import { byId, el, panelError, panelLoading, panelShow, replaceChildren } from "./dom.js";
import * as fmt from "./format.js";

const REFRESH_MS = 10000;
const panels = ["balances-panel", "shorts-panel", "transit-panel", "drift-panel"].map(byId);

/** A wallet amount: float residue below 1e-8 is 0, then up to 8 decimals (USDT: 2), at least 2, grouped. */
function walletAmount(value, asset = null) {
  if (value === null || value === undefined || !Number.isFinite(value)) return fmt.DASH;
  const v = Math.abs(value) < 5e-9 ? 0 : value;
  return v.toLocaleString("en-US", { minimumFractionDigits: 2, maximumFractionDigits: asset === "USDT" ? 2 : 8 });
}

function signed(node, value) {
  node.classList.add(Math.abs(value) < 5e-9 ? "zero" : fmt.signClass(value));
  return node;
}

/** A cell that carries its column's name, shown above the value when rows stack at 390 px. */
function cell(label, text, cls = null) {
  return el("td", { class: cls, "data-label": label }, text);
}

function reservedText(reserved) {
  if (!reserved.length) return fmt.DASH;
  return reserved.map((r) => `${fmt.label(r.by)} (${r.kind}) ${walletAmount(r.amount, r.kind.includes("collateral") ? "USDT" : null)}`).join("; ");
}

function balanceRows(exchange) {
  const head = el("tr", { class: "row-group" }, [
    el("th", { scope: "row", colspan: "5" }, fmt.label(exchange.exchange)),
    cell("Value (USDT)", fmt.money(exchange.value_usdt), "num"),
    el("td", { class: "stack-hide" }),
  ]);
  const rows = exchange.assets.map((a) => el("tr", { class: "row-exchange", dataset: { exchange: exchange.exchange, asset: a.asset } }, [
    el("th", { scope: "row", class: "wide" }, a.asset),
    cell("Balance", walletAmount(a.balance, a.asset), "num"),
    cell("Start", walletAmount(a.start, a.asset), "num"),
    signed(cell("Change", walletAmount(a.change, a.asset), "num"), a.change),
    cell("Free", walletAmount(a.free, a.asset), "num"),
    cell("Value (USDT)", fmt.money(a.value_usdt), "num"),
    cell("Reserved by", reservedText(a.reserved), "reason-wrap wide"),
  ]));
  return [head, ...rows];
}

function shortRow(s) {
  const level = s.margin_level === null ? fmt.DASH : `${fmt.num(s.margin_level, 2)}× (call < ${fmt.num(s.maintenance_ratio, 2)}×)`;
  return el("tr", {}, [
    cell("Strategy", fmt.label(s.strategy)),
    cell("Short", `${s.asset} on ${s.exchange}`),
    cell("Qty", walletAmount(s.qty), "num"),
    cell("Collateral", `${fmt.money(s.collateral_usdt)} USDT`, "num"),
    cell("Margin level", level, s.margin_level !== null && s.margin_level < s.maintenance_ratio ? "num neg" : "num"),
  ]);
}

function transitRow(t) {
  return el("tr", {}, [cell("Asset", t.asset), cell("Amount", walletAmount(t.amount, t.asset), "num"),
    cell("From → to", `${t.from} → ${t.to}`), cell("Arrives", fmt.dateTime(t.arrival_ts))]);
}

function driftRow(d) {
  return el("tr", { dataset: { asset: d.asset } }, [
    el("th", { scope: "row", class: "wide" }, d.asset),
    cell("Start", walletAmount(d.start, d.asset), "num"),
    cell("Now", walletAmount(d.now, d.asset), "num"),
    signed(cell("Drift", walletAmount(d.drift, d.asset), "num"), d.drift),
    signed(cell("Drift %", fmt.pct(d.drift_pct, 2, true), "num"), d.drift_pct),
    signed(cell("Drift (USDT)", fmt.signedMoney(d.drift_value_usdt, 2), "num"), d.drift_value_usdt),
  ]);
}

async function load() {
  for (const panel of panels) if (panel.dataset.state !== "ready") panelLoading(panel);
  try {
    const data = await api.get("/api/wallets");
    byId("wallets-as-of").textContent = fmt.dateTime(data.as_of);
    replaceChildren(byId("balances-body"), data.exchanges.flatMap(balanceRows));
    panelShow(panels[0], data.exchanges.length > 0);
    replaceChildren(byId("shorts-body"), data.shorts.map(shortRow));
    panelShow(panels[1], data.shorts.length > 0);
    replaceChildren(byId("transit-body"), data.in_transit.map(transitRow));
    panelShow(panels[2], data.in_transit.length > 0);
    replaceChildren(byId("drift-body"), data.inventory.map(driftRow));
    panelShow(panels[3], data.inventory.length > 0);
  } catch (exc) {
    for (const panel of panels) panelError(panel, `Could not load the wallets: ${exc.message}`, load);
  }
}

load();
setInterval(load, REFRESH_MS);
