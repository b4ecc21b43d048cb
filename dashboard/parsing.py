"""From a Flask request to checked request models (bot/requests.py), and refusals to JSON errors.

Views call parse_body / parse_query and hand the model to a command; a CommandError raised
anywhere in a view becomes `{"error", "field"}` with its status (see register_errors).
"""
from __future__ import annotations

from flask import Flask, request

from bot.requests import NoBody, CommandError, parse_json, validate_request
from dashboard.security import json_error


def parse_body(schema=NoBody):
    """The JSON body checked against schema. A control (schema NoBody) may also send no body."""
    raw = request.get_data(cache=True)
    if not raw.strip():
        if schema is NoBody:
            return NoBody()
        raise CommandError("the body must be a JSON object")
    return validate_request(schema, parse_json(raw))


def parse_query(schema):
    """The query string checked against schema; empty values count as not given (the pages send them)."""
    return validate_request(schema, {name: value for name, value in request.args.items() if value != ""})


def handle(command):
    """Run a command through the engine's handler (CommandError propagates to the error handler)."""
    from flask import current_app

    context = current_app.extensions["dashboard"]
    return context.engine.commands.handle(command, context.cooperate)


def register_errors(app: Flask) -> None:
    """Answer every CommandError as the API's error shape with its status."""

    @app.errorhandler(CommandError)
    def _refused(exc: CommandError):
        return json_error(exc.message, exc.status, exc.field)
