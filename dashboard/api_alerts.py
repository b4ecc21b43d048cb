"""The alerts and notifications API: rules (list, add, pause/resume, delete) and manual notifications.

Each write is parse -> command -> answer; bot/commands.py checks, persists and applies it, and
the fresh alerts_update (rebuilt by the live cache at the engine's new version) goes to every
dashboard at once rather than at the next broadcast.
"""
from __future__ import annotations

from flask import Blueprint, current_app, jsonify

from bot import payloads
from bot.commands import AddAlertRule, DeleteAlertRule, SendNotification, ToggleAlertRule, rule_dict
from bot.requests import AlertRuleRequest, NotificationRequest
from dashboard.parsing import handle, parse_body

alerts_api = Blueprint("alerts_api", __name__, url_prefix="/api")


def _pushed() -> None:
    """Everyone sees a rule change at once, not at the next broadcast."""
    broadcaster = current_app.extensions["dashboard"].broadcaster
    broadcaster.send("alerts_update", broadcaster.payload("alerts_update", 0))


@alerts_api.get("/alerts")
def list_alerts():
    return jsonify(payloads.alerts(current_app.extensions["dashboard"].facade))


@alerts_api.post("/alerts")
def add_alert():
    rule = handle(AddAlertRule(parse_body(AlertRuleRequest)))
    _pushed()
    return jsonify({"rule": rule_dict(rule)}), 201


@alerts_api.delete("/alerts/<rule_id>")
def delete_alert(rule_id: str):
    parse_body()
    deleted = handle(DeleteAlertRule(rule_id))
    _pushed()
    return jsonify({"deleted": deleted})


@alerts_api.post("/alerts/<rule_id>/toggle")
def toggle_alert(rule_id: str):
    parse_body()
    rule = handle(ToggleAlertRule(rule_id))
    _pushed()
    return jsonify({"rule": rule_dict(rule)})


@alerts_api.post("/notifications/send")
def send_notification():
    note = handle(SendNotification(parse_body(NotificationRequest)))
    notifications = current_app.extensions["dashboard"].engine.notifications
    return jsonify({"notification": note, "webhook": bool(notifications.config.webhook_url)})
