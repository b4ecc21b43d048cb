"""Pages render their template with the agreed context; vendor files come from node_modules."""
from __future__ import annotations

from pathlib import Path

import pytest
from flask import template_rendered
from jinja2 import ChoiceLoader, DictLoader

from dashboard.pages import PAGES, VENDOR_FILES

FALLBACK = '<!doctype html><meta name="csrf-token" content="{{ csrf_token }}"><title>{{ title }}</title>' \
           '<p>{{ market_description }}</p><p>{{ status.state }}</p>'


@pytest.fixture
def rendered(app):
    """Templates rendered during the test, with their context. Templates the front end has not
    written yet are stood in for by a minimal one."""
    app.jinja_env.loader = ChoiceLoader([app.jinja_env.loader,
                                         DictLoader({f"{name}.html": FALLBACK for name, _ in PAGES.values()})])
    seen = []

    def record(sender, template, context, **extra):
        seen.append((template.name, context))

    template_rendered.connect(record, app)
    yield seen
    template_rendered.disconnect(record, app)


@pytest.mark.parametrize("route", list(PAGES))
def test_page_renders_with_context(client, app, rendered, route):
    response = client.get(route)
    assert response.status_code == 200
    name, title = PAGES[route]
    template, context = rendered[0]
    assert template == f"{name}.html"
    assert context["page"] == name and context["title"] == title
    assert context["csrf_token"] == app.config["DASHBOARD_CSRF_TOKEN"]
    assert context["market_description"] == "Simulated market - paper trading"
    assert context["status"]["state"] == "running"
    assert f'name="csrf-token" content="{app.config["DASHBOARD_CSRF_TOKEN"]}"' in response.get_data(as_text=True)


def test_autoescaping_is_on(app):
    with app.app_context():
        assert app.jinja_env.from_string("{{ x }}").render(x="<script>") == "&lt;script&gt;"
        assert app.select_jinja_autoescape("overview.html")


@pytest.mark.parametrize("name", list(VENDOR_FILES))
def test_vendor_files_are_served_from_node_modules(client, name):
    response = client.get(f"/vendor/{name}")
    if not (Path(__file__).resolve().parents[2] / "node_modules" / VENDOR_FILES[name]).is_file():
        pytest.skip("node_modules not installed")
    assert response.status_code == 200
    assert response.mimetype == "text/javascript"
    assert len(response.get_data()) > 1000


def test_vendor_serves_nothing_else(client):
    assert client.get("/vendor/../package.json").status_code == 404
    assert client.get("/vendor/debug/src/index.js").status_code == 404


def test_missing_node_modules_is_a_503_with_the_setup_command(client, app, tmp_path):
    app.config["DASHBOARD_NODE_MODULES"] = str(tmp_path / "node_modules")
    response = client.get("/vendor/socket.io.min.js")
    assert response.status_code == 503
    assert "make setup" in response.get_data(as_text=True)
