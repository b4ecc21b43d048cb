"""The live web dashboard: a Flask + Socket.IO adapter over the bot's BotFacade (see API.md)."""
from dashboard.app import create_app

__all__ = ["create_app"]
