// Number and time formatting shared by every page. Missing values show as an en dash.

const DASH = "–";

function missing(value) {
  return value === null || value === undefined || (typeof value === "number" && !Number.isFinite(value));
}

function fixed(value, digits) {
  return Number(value).toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

/** 12,345.67 USDT-style amount (no currency sign: the portfolio's quote asset is USDT). */
export function money(value, digits = 2) {
  if (missing(value)) return DASH;
  return fixed(Math.abs(value) < 0.5 * 10 ** -digits ? 0 : value, digits); // never "-0.00"
}

/**
 * An axis tick (Chart.js callback (value, index, ticks)): as many decimals as the step between
 * ticks needs, so neighbours never read alike ("0, −0, −0, −1"), and never a negative zero.
 */
export function axisNumber(value, index, ticks) {
  if (missing(value)) return "";
  const step = ticks && ticks.length > 1 ? Math.abs(ticks[1].value - ticks[0].value) : Math.abs(value);
  let digits = 0; // the decimals the step needs to be written exactly (0.25 -> 2), at most 8
  while (digits < 8 && step > 0 && Math.abs(Math.round(step * 10 ** digits) - step * 10 ** digits) > 1e-6) digits += 1;
  const shown = Math.abs(value) < 0.5 * 10 ** -digits ? 0 : value;
  return fixed(shown, digits).replace("-", "−");
}

/** An amount of an asset at the asset's precision: 8 decimals for coins, 2 for USD-like quotes. */
export function assetAmount(value, asset) {
  if (missing(value)) return DASH;
  const digits = /^(USDT|USDC|USD|BUSD|DAI|EUR)$/.test(String(asset || "")) ? 2 : 8;
  const text = Number(Math.abs(value) < 0.5 * 10 ** -digits ? 0 : value)
    .toLocaleString("en-US", { minimumFractionDigits: digits === 2 ? 2 : 0, maximumFractionDigits: digits });
  return text;
}

/** +12.34 / −5.00 with an explicit sign, for P&L. */
export function signedMoney(value, digits = 2) {
  if (missing(value)) return DASH;
  if (Math.abs(value) < 0.5 * 10 ** -digits) value = 0; // no "−0.00"
  const sign = value > 0 ? "+" : value < 0 ? "−" : "";
  return sign + fixed(Math.abs(value), digits);
}

/** Percentage from a value already in percent (1.5 -> "1.50%"). */
export function pct(value, digits = 2, signed = false) {
  if (missing(value)) return DASH;
  if (Math.abs(value) < 0.5 * 10 ** -digits) value = 0;
  const sign = signed && value > 0 ? "+" : value < 0 ? "−" : "";
  return sign + fixed(Math.abs(value), digits) + "%";
}

/** Percentage from a ratio (0.5 -> "50.0%"), e.g. win rate. */
export function ratioPct(value, digits = 1) {
  return missing(value) ? DASH : pct(value * 100, digits);
}

/** A plain number with the given decimals (Sharpe, profit factor). */
export function num(value, digits = 2) {
  return missing(value) ? DASH : fixed(value, digits);
}

/** A price with precision that suits its size (60,000.12 / 2.4531 / 0.052341). */
export function price(value) {
  if (missing(value)) return DASH;
  const abs = Math.abs(value);
  const digits = abs >= 1000 ? 2 : abs >= 1 ? 4 : 6;
  return fixed(value, digits);
}

/** An axis label for a price: fewer decimals than price(), enough to tell ticks apart. */
export function axisPrice(value) {
  if (missing(value)) return "";
  const abs = Math.abs(value);
  return fixed(value, abs >= 1000 ? 0 : abs >= 1 ? 2 : 4);
}

/** A quantity without trailing zeros, at most 8 decimals. */
export function qty(value) {
  if (missing(value)) return DASH;
  return Number(value).toLocaleString("en-US", { maximumFractionDigits: 8 });
}

/** A fee or other small amount in an unknown asset: up to 8 decimals (prefer assetAmount). */
export function amount(value) {
  if (missing(value)) return DASH;
  return Number(value).toLocaleString("en-US", { maximumFractionDigits: 8 });
}

/** CSS class for a signed figure: pos, neg or zero. */
export function signClass(value) {
  // Below half a cent (or 0.005 %) a figure shows as 0.00, so it is coloured as zero too.
  if (missing(value) || Math.abs(value) < 0.005) return "zero";
  return value > 0 ? "pos" : "neg";
}

function toDate(value) {
  if (missing(value) || value === "") return null;
  const date = value instanceof Date ? value : new Date(value);
  return Number.isNaN(date.getTime()) ? null : date;
}

/** HH:MM:SS in UTC (market times are UTC, and on the simulator they are not wall-clock). */
export function time(value) {
  const date = toDate(value);
  return date ? date.toISOString().slice(11, 19) : DASH;
}

/** YYYY-MM-DD HH:MM:SS UTC. */
export function dateTime(value) {
  const date = toDate(value);
  return date ? date.toISOString().slice(0, 19).replace("T", " ") + " UTC" : DASH;
}

// ---- the clock policy ----------------------------------------------------------------------
// Market-produced times (trades, positions, alerts, candles) are on the market clock, shown
// as HH:MM:SS when they fall on the market's current UTC day and with their date otherwise.
// Wall-clock times (notifications, journal entries, "Updated") say that they are.
let marketNow = null; // ms of the market's current time, from the status bar's updates

/** The market's current time (ISO or ms), as the status bar last heard it. */
export function setMarketNow(value) {
  const date = toDate(value);
  if (date) marketNow = date.getTime();
}

/** A market-clock time: "14:03:09" on the market's current day, else "2026-01-01 14:03". */
export function stamp(value) {
  const date = toDate(value);
  if (!date) return DASH;
  const today = marketNow === null ? null : new Date(marketNow).toISOString().slice(0, 10);
  const iso = date.toISOString();
  return iso.slice(0, 10) === today ? iso.slice(11, 19) : `${iso.slice(0, 10)} ${iso.slice(11, 16)}`;
}

/** A wall-clock time (the bot's computer clock, UTC), labelled as such. */
export function wallDateTime(value) {
  const date = toDate(value);
  return date ? `${date.toISOString().slice(0, 19).replace("T", " ")} UTC wall clock` : DASH;
}

/** Local wall-clock HH:MM:SS (when the browser last heard from the bot). */
export function localTime(date = new Date()) {
  return date.toLocaleTimeString("en-GB", { hour12: false });
}

const PERIOD_UNITS = { 60: "minute", 3600: "hour", 86400: "day" };

/** A risk figure not shown yet: "needs 12 more hours" (the figure's period as the unit). */
export function needsText(m) {
  const count = Number(m && m.needs_periods) || 0;
  const unit = PERIOD_UNITS[Number(m && m.period_seconds)];
  const plural = count === 1 ? "" : "s";
  return unit ? `needs ${count} more ${unit}${plural}` : `needs ${count} more period${plural} of ${m && m.period}`;
}

/** The period and sample size next to a risk figure: "1h × 36 periods". */
export function basisText(m) {
  if (!m || !m.period) return "";
  const count = m.periods ?? 0;
  return `${m.period} × ${count} period${count === 1 ? "" : "s"}`;
}

/** The change column's header for a window in seconds: "24h" only when it is a day of market time. */
export function changeLabel(seconds) {
  const s = Number(seconds);
  if (!Number.isFinite(s) || s <= 0) return "Change";
  if (s >= 86400 - 60) return "24h";
  return `${s >= 3600 ? `${(s / 3600).toFixed(s >= 36000 ? 0 : 1)}h` : `${Math.max(1, Math.round(s / 60))}m`} change`;
}

/** 45s, 12m 30s, 3h 05m, 2d 4h. */
export function duration(seconds) {
  if (missing(seconds)) return DASH;
  let rest = Math.round(seconds);
  const days = Math.floor(rest / 86400);
  rest -= days * 86400;
  const hours = Math.floor(rest / 3600);
  rest -= hours * 3600;
  const minutes = Math.floor(rest / 60);
  const secs = rest - minutes * 60;
  const two = (n) => String(n).padStart(2, "0");
  if (days) return `${days}d ${hours}h`;
  if (hours) return `${hours}h ${two(minutes)}m`;
  return minutes ? `${minutes}m ${two(secs)}s` : `${secs}s`;
}

/** "momentum" -> "Momentum", "stat_arb" -> "Stat arb". */
export function label(name) {
  if (!name) return DASH;
  const text = String(name).replace(/_/g, " ");
  return text.charAt(0).toUpperCase() + text.slice(1);
}

export { DASH };
