// The tables the server owns (bot/payloads.py catalog): strategy names, notification levels and
// the alert conditions with their fields and limits. Every page carries them in
// <body data-catalog>, the same object GET /api/catalog answers, so no list is copied into JavaScript.

function read() {
  try {
    return JSON.parse(document.body.dataset.catalog || "{}");
  } catch (exc) {
    console.warn("the page's catalog is unreadable:", exc);
    return {};
  }
}

export const catalog = read();
/** Strategy names the bot knows (config and books). */
export const STRATEGIES = Array.isArray(catalog.strategies) ? catalog.strategies : [];
/** Notification levels. */
export const LEVELS = Array.isArray(catalog.levels) ? catalog.levels : [];
/** condition -> {condition, help, fields: [{name, required, kind, min, max, ..., suggested}]} */
export const CONDITIONS = new Map((catalog.conditions || []).map((row) => [row.condition, row]));
/** repeat, cooldown_minutes, note: fields every rule takes, with their bounds. */
export const RULE_FIELDS = new Map((catalog.rule_fields || []).map((row) => [row.name, row]));
export const LIMITS = catalog.limits || {};

/** The field row of a condition (or of every rule), or {}. */
export function fieldSpec(condition, name) {
  const row = CONDITIONS.get(condition);
  const own = row ? row.fields.find((f) => f.name === name) : null;
  return own || RULE_FIELDS.get(name) || {};
}
