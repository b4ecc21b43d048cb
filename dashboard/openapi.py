"""GET /api/openapi.json: the OpenAPI 3.1 document of every /api endpoint.

Built from the app's own URL map (so no endpoint is missed) and from the pydantic request
models the views validate with (so the document and the checks are one). OPERATIONS says, per
endpoint, what it takes and which answers it gives; a test holds it equal to the URL map.
Built by hand rather than with a Flask extension: the models already live in bot/ (commands
validate with them too), and ~150 lines cost less than a dependency that wants to own routing.
"""
from __future__ import annotations

import copy
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal, Optional

from flask import Blueprint, current_app, jsonify
from pydantic import BaseModel

from bot.chart_data import CandlesQuery
from bot.engine_state import EngineState
from bot.requests_orders import ClosePositionRequest, OrderRequest
from bot.requests import (AlertRuleRequest, ExecutionQuery, JournalEntryRequest, JournalQuery, NoBody,
                          NotificationRequest, RoundTripsQuery, SpeedRequest, TradesQuery, adapter)
from bot.requests_pages import LogsQuery, RoundTripsSummaryQuery, TradeSearchQuery

openapi = Blueprint("openapi", __name__, url_prefix="/api")
REF = "#/components/schemas/{model}"


class ErrorAnswer(BaseModel):
    """Every refusal: a sentence and the field at fault (or null)."""

    error: str
    field: Optional[str]


class StateAnswer(BaseModel):
    """What a start, pause or stop left the engine in (never "closed": a closed engine serves no request)."""

    state: Literal[EngineState.RUNNING, EngineState.PAUSED, EngineState.STOPPED]


class StrategyToggleAnswer(BaseModel):
    strategy: str
    enabled: bool


class ClockAnswer(BaseModel):
    """How the market clock runs after the change (as `clock` in GET /api/status)."""

    speed: float
    tick_seconds: float
    tick_interval_seconds: float
    mode: Literal["idle", "fast", "realtime"]
    applies: bool


class RuleAnswer(BaseModel):
    rule: dict


class DeletedAnswer(BaseModel):
    deleted: str


class EntryAnswer(BaseModel):
    entry: dict


class OrderAnswer(BaseModel):
    order: dict


class EstimateAnswer(BaseModel):
    estimate: dict


class NotificationAnswer(BaseModel):
    notification: dict
    webhook: bool


ERROR_TEXT = {400: "refused: the field named is wrong",
              401: "a password is set: sign in on /login or send Authorization: Bearer <token>",
              405: "method not allowed (Allow lists the methods)",
              403: "cross-site request refused (CSRF token, Origin), or a read-only token writing",
              404: "no such thing (field names which)", 409: "switched off in the config, or not for this market",
              413: "body too large", 415: "the body must be JSON", 429: "rate-limited",
              503: "storage failing (`storage: <cause>`); nothing was changed"}
WRITE_ERRORS = (400, 403, 413, 415, 503)


# No security requirement ({}) while no password is set; after set-password one of the others.
SECURITY_SCHEMES = {"bearer": {"type": "http", "scheme": "bearer", "description": "run_bot.py token create NAME"},
                    "session": {"type": "apiKey", "in": "cookie", "name": "ptb_session",
                                "description": "made by POST /login"}}


@dataclass(frozen=True)
class Operation:
    """What one endpoint takes and answers."""

    summary: str
    body: object = None
    query: object = None
    answer: object = None
    status: int = 200
    errors: tuple = ()
    media: str = "application/json"


def _control(summary: str, answer=StateAnswer, errors=WRITE_ERRORS) -> Operation:
    return Operation(summary, body=NoBody, answer=answer, errors=errors)


OPERATIONS: dict[str, Operation] = {
    "api.health": Operation("Liveness and degradation (503 with reasons when degraded)", errors=(503,)),
    "api.status": Operation("Engine state, market source, tick, exchanges and their health"),
    "api.portfolio": Operation("Equity, cash, P&L split, wallets and open positions (USDT)"),
    "api.trades": Operation("Newest trades first", query=TradesQuery, errors=(400,)),
    "api.catalog": Operation("Strategy names, notification levels, alert conditions with their fields and limits"),
    "api.strategies_performance": Operation("Per-strategy P&L, trades, win rate and counters"),
    "api.market_live": Operation("Every quote of the last snapshot and cross-exchange gaps"),
    "api.analytics": Operation("Risk metrics overall and per strategy"),
    "api.chart_allocation": Operation("Value of each asset over all wallets"),
    "api.chart_distribution": Operation("Histogram of closing trades' net P&L per strategy"),
    "api.chart_cumulative": Operation("Equity, trading equity, buy and hold and cumulative net P&L per strategy"),
    "api.bot_start": _control("Start (or resume) trading"),
    "api.bot_pause": _control("Pause trading; the market keeps updating"),
    "api.bot_stop": _control("Stop the tick loop"),
    "api.toggle_strategy": _control("Switch a strategy on or off", StrategyToggleAnswer, WRITE_ERRORS + (404,)),
    "api.market_speed": Operation("Set the simulated clock's speed (simulated seconds per wall second)",
                                  body=SpeedRequest, answer=ClockAnswer, errors=WRITE_ERRORS + (409,)),
    "alerts_api.list_alerts": Operation("Alert rules, trigger history, whale feed, recent notifications"),
    "alerts_api.add_alert": Operation("Add an alert rule", body=AlertRuleRequest, answer=RuleAnswer, status=201,
                                      errors=WRITE_ERRORS),
    "alerts_api.delete_alert": _control("Delete an alert rule", DeletedAnswer, WRITE_ERRORS + (404,)),
    "alerts_api.toggle_alert": _control("Pause or resume (re-arm) an alert rule", RuleAnswer, WRITE_ERRORS + (404,)),
    "alerts_api.send_notification": Operation("Send a notification by hand", body=NotificationRequest,
                                              answer=NotificationAnswer, errors=WRITE_ERRORS + (409, 429)),
    "journal_api.entries": Operation("Journal entries, newest first", query=JournalQuery, errors=(400, 503)),
    "journal_api.add_entry": Operation("Add a journal entry", body=JournalEntryRequest, answer=EntryAnswer,
                                       status=201, errors=WRITE_ERRORS),
    "journal_api.update_entry": Operation("Change the fields sent of a journal entry", body=JournalEntryRequest,
                                          answer=EntryAnswer, errors=WRITE_ERRORS + (404,)),
    "exports.export_trades": Operation("Every ledger line as CSV", media="text/csv"),
    "exports.export_portfolio": Operation("Balances, positions and equity as CSV", media="text/csv"),
    "exports.export_journal": Operation("Journal entries as CSV", media="text/csv"),
    "exports.export_roundtrips": Operation("Every round trip as CSV", media="text/csv"),
    "exports.export_transfers": Operation("Every transfer between exchanges as CSV", media="text/csv"),
    "exports.export_borrow_fees": Operation("Every borrow fee of a short as CSV", media="text/csv"),
    "books_api.transfers": Operation("Transfers between exchanges (newest first), coins in transit, "
                                     "transfer and borrow fees per strategy"),
    "roundtrips_api.roundtrips": Operation("Round trips derived from the ledger, filtered and paged",
                                           query=RoundTripsQuery, errors=(400,)),
    "roundtrips_api.roundtrips_summary": Operation("Per-symbol figures and the daily and weekly P&L calendar of "
                                                   "the round trips matching the filters",
                                                   query=RoundTripsSummaryQuery, errors=(400,)),
    "pages_api.wallets": Operation("Balances per exchange and asset, who reserves what, shorts and their "
                                   "margin, coins in transit, inventory drift against the start"),
    "pages_api.logs": Operation("A page of the activity log or bot.log, newest first, read from the file's end",
                                query=LogsQuery, errors=(400, 503)),
    "pages_api.journal_trades": Operation("Trades for the journal's picker, searched over the whole ledger",
                                          query=TradeSearchQuery, errors=(400,)),
    "execution_api.execution": Operation("Fill quality per strategy and exchange: fills, misses, slippage, "
                                         "latency cost, transfers, borrow fees", query=ExecutionQuery, errors=(400,)),
    "report_api.report_html": Operation("The HTML tearsheet of the run (a self-contained download)",
                                        media="text/html"),
    "chart_api.candles": Operation("One market's closed 1-minute candles (paged), our fills on them and the "
                                   "deciding strategies' indicators", query=CandlesQuery, errors=(400, 404)),
    "orders_api.list_orders": Operation("Open orders, the latest finished ones, what they reserve, strategies' exits"),
    "orders_api.place_order": Operation("Place a paper order of the manual strategy", body=OrderRequest,
                                        answer=OrderAnswer, status=201, errors=WRITE_ERRORS + (409,)),
    "orders_api.estimate_order": Operation("What an order would do now (book walk with fees and slippage)",
                                           body=OrderRequest, answer=EstimateAnswer, errors=WRITE_ERRORS + (409,)),
    "orders_api.cancel_order": _control("Cancel an open order (a filled one answers with its fill)", OrderAnswer,
                                        WRITE_ERRORS + (404,)),
    "orders_api.close_position": Operation("Close or reduce a strategy's position (reason `manual close`)",
                                           body=ClosePositionRequest, answer=OrderAnswer, status=201,
                                           errors=WRITE_ERRORS + (404, 409)),
    "openapi.document": Operation("This document"),
}


@openapi.get("/openapi.json")
def document():
    return jsonify(build_document(current_app, _live_examples(current_app.extensions["dashboard"].engine)))


def _live_examples(engine) -> dict[str, list[str]]:
    """Values the running bot accepts for the fields whose valid values are not fixed (symbols...)."""
    strategies = sorted(engine.manager.strategies) if engine.manager is not None else []
    return {"symbol": list(engine.source.symbols), "exchange": list(engine.source.exchanges),
            "strategy": strategies, "name": strategies}


def api_rules(app) -> list:
    """The URL rules under /api, in a stable order."""
    return sorted((rule for rule in app.url_map.iter_rules() if rule.rule.startswith("/api/")),
                  key=lambda rule: rule.rule)


def build_document(app, examples: dict[str, list] | None = None) -> dict:
    """The OpenAPI document for app's /api endpoints; examples are the running bot's valid values by field name."""
    components: dict[str, dict] = {}
    paths: dict[str, dict] = {}
    for rule in api_rules(app):
        path = re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule.rule)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            paths.setdefault(path, {})[method.lower()] = _operation(rule, components)
    _add_examples(components, paths, examples or {})
    return {"openapi": "3.1.0",
            "info": {"title": "Paper-trading bot dashboard API", "version": "1",
                     "description": "Errors are {\"error\": sentence, \"field\": name or null}. Writes need the "
                                    "page's X-CSRF-Token header and a JSON body (the controls take none). Once a "
                                    "password is set every endpoint needs the session cookie or an API token "
                                    "(run_bot.py token create) as Authorization: Bearer; bearer writes need no "
                                    "CSRF token."},
            "paths": paths, "security": [{}, {"bearer": []}, {"session": []}],
            "components": {"schemas": components, "securitySchemes": SECURITY_SCHEMES}}


def _add_examples(components: dict, paths: dict, examples: dict) -> None:
    """Put the live valid values beside the properties and path parameters of those names."""
    for schema in components.values():
        for name, prop in schema.get("properties", {}).items():
            if examples.get(name):
                prop["examples"] = list(examples[name])
    for operations in paths.values():
        for operation in operations.values():
            for parameter in operation["parameters"]:
                if examples.get(parameter["name"]):
                    parameter["schema"] = {**parameter["schema"], "examples": list(examples[parameter["name"]])}


def _operation(rule, components: dict) -> dict:
    spec = OPERATIONS.get(rule.endpoint) or Operation(f"(undocumented: {rule.endpoint})")
    operation: dict = {"operationId": rule.endpoint, "summary": spec.summary, "parameters": []}
    for name in sorted(rule.arguments):
        operation["parameters"].append({"name": name, "in": "path", "required": True, "schema": {"type": "string"}})
    if spec.query is not None:
        operation["parameters"].extend(_query_parameters(spec.query))
    if spec.body is not None:
        operation["requestBody"] = {"required": spec.body is not NoBody,
                                    "content": {"application/json": {"schema": _schema(spec.body, components)}}}
    ok_schema = _schema(spec.answer, components) if spec.answer is not None else {"type": "object"}
    content = {spec.media: {"schema": ok_schema if spec.media == "application/json" else {"type": "string"}}}
    operation["responses"] = {str(spec.status): {"description": "OK", "content": content}}
    error_ref = _schema(ErrorAnswer, components)
    errors = set(spec.errors) | {401, 405} | ({404} if rule.arguments else set())
    for status in sorted(errors):
        operation["responses"][str(status)] = {"description": ERROR_TEXT.get(status, "refused"),
                                               "content": {"application/json": {"schema": error_ref}}}
    return operation


def _schema(schema, components: dict) -> dict:
    """A $ref to schema's JSON schema, adding it and what it refers to into components."""
    name, generated = _generated(schema)
    generated = copy.deepcopy(generated)  # the cached original stays clean of live examples
    for key, value in generated.get("$defs", {}).items():
        components.setdefault(key, value)
    components.setdefault(name, {k: v for k, v in generated.items() if k != "$defs"})
    return {"$ref": REF.format(model=name)}


@lru_cache(maxsize=None)
def _generated(schema) -> tuple[str, dict]:
    name = "AlertRuleRequest" if schema is AlertRuleRequest else schema.__name__
    return name, adapter(schema).json_schema(ref_template=REF)


def _query_parameters(model) -> list[dict]:
    generated = adapter(model).json_schema(ref_template=REF)
    required = set(generated.get("required", ()))
    return [{"name": name, "in": "query", "required": name in required,
             "description": prop.get("description", ""), "schema": prop}
            for name, prop in generated["properties"].items()]
