"""The one shape of every dashboard payload: each Socket.IO event and its REST twin come from here.

A builder takes the BotFacade and returns a JSON object (never a bare list); the live cache
(Socket.IO) and the API views (REST) call the same builder, so the two transports cannot
drift. Socket.IO's periodic *_update events add only the envelope fields `sent_at` and
`broadcast_seq` (ENVELOPE). `catalog()` is the table of alert conditions, notification levels
and strategy names the pages take from the server instead of copying it into JavaScript.
"""
from __future__ import annotations

from typing import Any, Callable, Optional, TypedDict

ENVELOPE = ("sent_at", "broadcast_seq")


class TradesPayload(TypedDict):
    """`trades_update`, `trade_executed` and GET /api/trades: trades newest first and the ledger count."""

    trades: list[dict]
    total: int


class StrategiesPayload(TypedDict):
    """`strategies_update` and GET /api/strategies/performance."""

    strategies: list[dict]


class PortfolioPayload(TypedDict, total=False):
    """`portfolio_update` and GET /api/portfolio (every field: BotFacade.portfolio_summary)."""

    equity: float
    initial_equity: float
    total_pnl: float
    strategies_net_pnl: float
    holdings_pnl: float
    positions: list[dict]
    as_of: Optional[str]


class MarketPayload(TypedDict):
    """`market_update` and GET /api/market/live."""

    as_of: Optional[str]
    quotes: list[dict]
    cross_exchange: list[dict]
    change_window_seconds: Optional[float]
    health: dict
    scenario: Optional[dict]


class AlertsPayload(TypedDict):
    """`alerts_update` and GET /api/alerts."""

    rules: list[dict]
    history: list[dict]
    whales: list[dict]
    notifications: list[dict]


class CatalogPayload(TypedDict):
    """GET /api/catalog (and every page's data-catalog): the tables the browser must not copy."""

    strategies: list[str]
    levels: list[str]
    conditions: list[dict]
    rule_fields: list[dict]
    limits: dict


def portfolio(facade) -> PortfolioPayload:
    """The portfolio summary (equity, the P&L decomposition, wallets, positions)."""
    return facade.portfolio_summary()


def trades(facade, limit: int = 10, strategy: str | None = None, cooperate=None) -> TradesPayload:
    """The newest `limit` trades (of one strategy or all) and the number of trades in the ledger."""
    return {"trades": facade.trades(limit, strategy, cooperate), "total": facade.engine.ledger.count}


def executed(facade, fills) -> TradesPayload:
    """`trade_executed`: the Trade objects just recorded (one per leg), in the trades shape."""
    return {"trades": [trade.to_dict() for trade in fills], "total": facade.engine.ledger.count}


def strategies(facade) -> StrategiesPayload:
    """Every strategy's performance row."""
    return {"strategies": facade.strategy_performance()}


def alerts(facade) -> AlertsPayload:
    """Alert rules, trigger history, whales and notifications."""
    return facade.alerts()


def market(facade) -> MarketPayload:
    """Every quote of the last snapshot and the cross-exchange gaps."""
    return facade.market_live()


def status(facade) -> dict:
    """`bot_status` and GET /api/status."""
    return facade.status()


# The periodic events: name -> builder (the live cache holds one payload per engine version).
def orders(facade) -> dict:
    """orders_update and GET /api/orders: open orders, the latest finished ones, reserves, strategies' exits."""
    from bot.commands_orders import orders_listing  # late: the order desk's module imports the command path

    return orders_listing(facade.engine)


UPDATE_BUILDERS: dict[str, Callable[[Any], dict]] = {
    "portfolio_update": portfolio,
    "trades_update": trades,
    "strategies_update": strategies,
    "alerts_update": alerts,
    "market_update": market,
    "orders_update": orders,
}
# event -> the REST path whose answer has the same shape (GET /api/trades with limit=10)
REST_TWINS = {
    "portfolio_update": "/api/portfolio",
    "trades_update": "/api/trades?limit=10",
    "strategies_update": "/api/strategies/performance",
    "alerts_update": "/api/alerts",
    "market_update": "/api/market/live",
    "orders_update": "/api/orders",
    "bot_status": "/api/status",
    "trade_executed": "/api/trades",
}


def update_builders(facade) -> dict[str, Callable[[], dict]]:
    """The live cache's builders, bound to one facade."""
    return {event: (lambda build=build: build(facade)) for event, build in UPDATE_BUILDERS.items()}


# ----- the catalog: alert conditions with their limits, levels, strategies ------------------
_BOUNDS = {"minimum": "min", "exclusiveMinimum": "min_exclusive", "maximum": "max",
           "exclusiveMaximum": "max_exclusive", "minLength": "min_length", "maxLength": "max_length"}
_COMMON = ("repeat", "cooldown_minutes", "note")


def _field(name: str, schema: dict, required: bool, suggested: dict) -> dict:
    """One field of a rule model's JSON schema, flattened for a form: kind, bounds, default."""
    options = [schema] + [part for part in schema.get("anyOf", []) if part.get("type") != "null"]
    row = {"name": name, "required": required, "description": schema.get("description", "")}
    for part in options:
        if "type" in part and "kind" not in row:
            row["kind"] = part["type"]
        for key, short in _BOUNDS.items():
            if key in part:
                row[short] = part[key]
    if "default" in schema:
        row["default"] = schema["default"]
    if name in suggested:
        row["suggested"] = suggested[name]
    return row


def conditions() -> list[dict]:
    """Every alert condition: its help sentence and the fields it takes (bounds from its model)."""
    from bot.requests import CONDITIONS, AlertRuleRequest, _union_members

    rows = []
    for condition, model in _union_members(AlertRuleRequest).items():
        schema = model.model_json_schema()
        required = set(schema.get("required", []))
        fields = [_field(name, part, name in required, model.suggested)
                  for name, part in schema["properties"].items() if name != "condition" and name not in _COMMON]
        rows.append({"condition": condition, "label": model.label, "help": model.help, "fields": fields})
    return sorted(rows, key=lambda row: CONDITIONS.index(row["condition"]))


def rule_fields() -> list[dict]:
    """The fields every alert rule takes besides its condition's own (repeat, cooldown, note)."""
    from bot.requests import AlertRuleBase

    schema = AlertRuleBase.model_json_schema()
    return [_field(name, schema["properties"][name], False, {}) for name in _COMMON]


def catalog(facade) -> CatalogPayload:
    """The tables pages must not copy: strategy names, notification levels, alert conditions, limits."""
    from bot.requests import LEVELS, MAX_MESSAGE_CHARS, MAX_TEXT_CHARS, MAX_TRADES_LIMIT

    return {"strategies": facade.strategy_names(), "levels": list(LEVELS), "conditions": conditions(),
            "rule_fields": rule_fields(),
            "limits": {"message_chars": MAX_MESSAGE_CHARS, "journal_text_chars": MAX_TEXT_CHARS,
                       "trades_limit": MAX_TRADES_LIMIT}}
