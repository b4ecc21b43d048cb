// Wallets page: balances per exchange and asset with who reserves what, shorts and their
// margin, coins in transit and inventory drift against the start (GET /api/wallets).
import "./layout.js";
import { api } from "./api.js";
import { byId, el, panelError, panelLoading, panelShow, replaceChildren, td } from "./dom.js";
import * as fmt from "./format.js";

const REFRESH_MS = 10000;
const panels = ["balances-panel", "shorts-panel", "transit-panel", "drift-panel"].map(byId);

/** A wallet amount: float residue below 1e-8 is 0, then up to 8 decimals (at least 2), grouped. */
function walletAmount(value) {
  if (value === null || value === undefined || !Number.isFinite(value)) return fmt.DASH;
  const v = Math.abs(value) < 5e-9 ? 0 : value;
  return v.toLocaleString("en-US", { minimumFractionDigits: 2, maximumFractionDigits: 8 });
}

function signed(node, value) {
  node.classList.add(Math.abs(value) < 5e-9 ? "zero" : fmt.signClass(value));
  return node;
}

function reservedText(reserved) {
  if (!reserved.length) return fmt.DASH;
  return reserved.map((r) => `${fmt.label(r.by)} (${r.kind}) ${walletAmount(r.amount)}`).join("; ");
}

function balanceRows(exchange) {
  const head = el("tr", { class: "row-group" }, [
    el("th", { scope: "row", colspan: "6" }, fmt.label(exchange.exchange)),
    td(fmt.money(exchange.value_usdt), "num"),
  ]);
  const rows = exchange.assets.map((a) => el("tr", { class: "row-exchange", dataset: { exchange: exchange.exchange, asset: a.asset } }, [
    el("th", { scope: "row" }, a.asset),
    td(walletAmount(a.balance), "num"),
    td(walletAmount(a.start), "num"),
    signed(td(walletAmount(a.change), "num"), a.change),
    td(reservedText(a.reserved), "reason-wrap"),
    td(walletAmount(a.free), "num"),
    td(fmt.money(a.value_usdt), "num"),
  ]));
  return [head, ...rows];
}

function shortRow(s) {
  const level = s.margin_level === null ? fmt.DASH : `${fmt.num(s.margin_level, 2)}× (call < ${fmt.num(s.maintenance_ratio, 2)}×)`;
  return el("tr", {}, [
    td(fmt.label(s.strategy)),
    td(`${s.asset} on ${s.exchange}`),
    td(walletAmount(s.qty), "num"),
    td(`${fmt.money(s.collateral_usdt)} USDT`, "num"),
    td(level, s.margin_level !== null && s.margin_level < s.maintenance_ratio ? "num neg" : "num"),
  ]);
}

function transitRow(t) {
  return el("tr", {}, [td(t.asset), td(walletAmount(t.amount), "num"), td(`${t.from} → ${t.to}`), td(fmt.dateTime(t.arrival_ts))]);
}

function driftRow(d) {
  return el("tr", { dataset: { asset: d.asset } }, [
    el("th", { scope: "row" }, d.asset),
    td(walletAmount(d.start), "num"),
    td(walletAmount(d.now), "num"),
    signed(td(walletAmount(d.drift), "num"), d.drift),
    signed(td(fmt.pct(d.drift_pct, 2, true), "num"), d.drift_pct),
    signed(td(fmt.signedMoney(d.drift_value_usdt, 2), "num"), d.drift_value_usdt),
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
