"""The alerts and notifications API: rules (list, add, pause/resume, delete) and manual notifications."""
from __future__ import annotations

from flask import Blueprint, current_app, jsonify, request

from bot.alerts import AlertRuleError, validate_rule
from bot.notifications import LEVELS
from dashboard.security import json_error

alerts_api = Blueprint("alerts_api", __name__, url_prefix="/api")
MAX_MESSAGE_CHARS = 500


def _ctx():
    return current_app.extensions["dashboard"]


def _changed() -> None:
    """Everyone sees a rule change at once, not at the next broadcast."""
    ctx = _ctx()
    ctx.engine.cache.invalidate()
    ctx.broadcaster.send("alerts_update", ctx.broadcaster.payload("alerts_update", 0))


@alerts_api.get("/alerts")
def list_alerts():
    return jsonify(_ctx().facade.alerts())


@alerts_api.post("/alerts")
def add_alert():
    engine = _ctx().engine
    body = request.get_json(silent=True)
    try:
        spec = validate_rule(body, engine.source.symbols, engine.source.exchanges, sorted(engine.manager.strategies))
    except AlertRuleError as exc:
        return json_error(exc.message, 400, exc.field)
    snapshot = engine.last_snapshot
    rule = engine.alerts.add(snapshot.ts if snapshot else _wall_clock(), **spec)
    engine.activity.record("alert_added", rule_id=rule.id, rule=rule.describe())
    _changed()
    return jsonify({"rule": _rule_dict(rule)}), 201


@alerts_api.delete("/alerts/<rule_id>")
def delete_alert(rule_id: str):
    engine = _ctx().engine
    if not engine.alerts.delete(rule_id):
        return json_error(f"no alert rule {rule_id!r}", 404, "id")
    engine.activity.record("alert_deleted", rule_id=rule_id)
    _changed()
    return jsonify({"deleted": rule_id})


@alerts_api.post("/alerts/<rule_id>/toggle")
def toggle_alert(rule_id: str):
    rule = _ctx().engine.alerts.toggle(rule_id)
    if rule is None:
        return json_error(f"no alert rule {rule_id!r}", 404, "id")
    _changed()
    return jsonify({"rule": _rule_dict(rule)})


@alerts_api.post("/notifications/send")
def send_notification():
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        return json_error("the body must be a JSON object", 400)
    for key in body:
        if key not in ("message", "level"):
            return json_error(f"{key} is not a field of a notification (message, level)", 400, key)
    message = body.get("message")
    if not isinstance(message, str) or not message.strip():
        return json_error("message is required", 400, "message")
    if len(message) > MAX_MESSAGE_CHARS:
        return json_error(f"message must be at most {MAX_MESSAGE_CHARS} characters", 400, "message")
    level = body.get("level", "info")
    if level not in LEVELS:
        return json_error(f"level must be one of {', '.join(LEVELS)}", 400, "level")
    notifications = _ctx().engine.notifications
    if not notifications.config.kinds.get("manual", True):
        return json_error("manual notifications are switched off (notifications.kinds.manual)", 409)
    note = notifications.notify("manual", message.strip(), level=level)
    if note is None:
        return json_error("too many notifications this minute; try again shortly", 429)
    return jsonify({"notification": note, "webhook": bool(notifications.config.webhook_url)})


def _rule_dict(rule) -> dict:
    from dataclasses import asdict

    return asdict(rule)


def _wall_clock() -> float:
    import time

    return time.time()
