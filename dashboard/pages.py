"""The dashboard's pages and the browser libraries served from node_modules.

Each page is server-rendered from templates/<name>.html with the same context (page, title,
csrf_token, market_description, status); its script then fills the panels from the API and
the Socket.IO events.
"""
from __future__ import annotations

import logging
from pathlib import Path

from flask import Blueprint, abort, current_app, render_template, send_file

from bot import payloads
from dashboard.security import csrf_token

log = logging.getLogger(__name__)

REPO_ROOT = Path(__file__).resolve().parent.parent
NODE_MODULES = REPO_ROOT / "node_modules"
# URL name under /vendor/ -> file inside node_modules (nothing else is served from there)
VENDOR_FILES = {
    "socket.io.min.js": "socket.io-client/dist/socket.io.min.js",
    "chart.umd.min.js": "chart.js/dist/chart.umd.min.js",
    "lightweight-charts.js": "lightweight-charts/dist/lightweight-charts.standalone.production.js",
}
SETUP_HINT = "run 'make setup' (it runs 'npm install') in the project folder, then restart the bot"
# route -> (template name, title)
PAGES = {
    "/": ("overview", "Overview"),
    "/analytics": ("analytics", "Analytics"),
    "/leaderboard": ("leaderboard", "Strategy leaderboard"),
    "/journal": ("journal", "Trade journal"),
    "/alerts": ("alerts", "Alerts"),
    "/market": ("market", "Market"),
    "/trades": ("trades", "Round trips"),
    "/wallets": ("wallets", "Wallets"),
    "/logs": ("logs", "Logs"),
}

pages = Blueprint("pages", __name__)


def missing_vendor_files(node_modules: Path = NODE_MODULES) -> list[str]:
    return [relative for relative in VENDOR_FILES.values() if not (node_modules / relative).is_file()]


def warn_if_vendor_missing(node_modules: Path = NODE_MODULES) -> None:
    missing = missing_vendor_files(node_modules)
    if missing:
        log.warning("browser libraries missing from %s (%s): the dashboard pages will not work; %s",
                    node_modules, ", ".join(missing), SETUP_HINT)


def _render(name: str, title: str):
    engine = current_app.extensions["dashboard"].engine
    status = payloads.status(engine.facade)
    return render_template(f"{name}.html", page=name, title=title, csrf_token=csrf_token(),
                           market_description=status["market_description"], status=status,
                           catalog=payloads.catalog(engine.facade))


def _page_view(name: str, title: str):
    def view():
        return _render(name, title)

    view.__name__ = name
    return view


for _route, (_name, _title) in PAGES.items():
    pages.add_url_rule(_route, endpoint=_name, view_func=_page_view(_name, _title), methods=["GET"])


@pages.get("/vendor/<path:name>")
def vendor(name: str):
    relative = VENDOR_FILES.get(name)
    if relative is None:
        abort(404)
    node_modules = Path(current_app.config.get("DASHBOARD_NODE_MODULES", NODE_MODULES))
    path = node_modules / relative
    if not path.is_file():
        return (f"{name} is not installed ({path} is missing): {SETUP_HINT}.\n", 503,
                {"Content-Type": "text/plain; charset=utf-8"})
    return send_file(path, mimetype="text/javascript", max_age=3600)
