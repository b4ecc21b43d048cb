"""GET /api/openapi.json documents every /api endpoint, from the same models the views check with."""
from __future__ import annotations

from dashboard.openapi import OPERATIONS


def document(client) -> dict:
    response = client.get("/api/openapi.json")
    assert response.status_code == 200
    return response.get_json()


def refs(node):
    if isinstance(node, dict):
        if "$ref" in node:
            yield node["$ref"]
        for value in node.values():
            yield from refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from refs(value)


def test_every_api_route_and_method_is_documented(app, client):
    doc = document(client)
    assert doc["openapi"].startswith("3.")
    routes = {(rule.rule, method) for rule in app.url_map.iter_rules() if rule.rule.startswith("/api/")
              for method in rule.methods - {"HEAD", "OPTIONS"}}
    documented = {(path.replace("{", "<").replace("}", ">"), method.upper())
                  for path, methods in doc["paths"].items() for method in methods}
    assert documented == routes
    endpoints = {rule.endpoint for rule in app.url_map.iter_rules() if rule.rule.startswith("/api/")}
    assert set(OPERATIONS) == endpoints
    assert len(routes) >= 25


def test_every_reference_resolves_and_errors_have_the_error_shape(client):
    doc = document(client)
    schemas = doc["components"]["schemas"]
    for ref in refs(doc):
        assert ref.startswith("#/components/schemas/") and ref.rsplit("/", 1)[1] in schemas, ref
    assert schemas["ErrorAnswer"]["required"] == ["error", "field"]
    for path, methods in doc["paths"].items():
        for method, operation in methods.items():
            for status, answer in operation["responses"].items():
                if int(status) >= 400:
                    assert answer["content"]["application/json"]["schema"] == {
                        "$ref": "#/components/schemas/ErrorAnswer"}, (path, method, status)
            if method != "get":
                assert {"400", "403", "415"} <= set(operation["responses"]), (path, method)


def test_bodies_and_parameters_say_what_the_checks_enforce(client, engine):
    doc = document(client)
    schemas = doc["components"]["schemas"]
    rule = doc["paths"]["/api/alerts"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    union = schemas[rule["$ref"].rsplit("/", 1)[1]]
    assert set(union["discriminator"]["mapping"]) == {"above", "below", "pct_move", "drawdown", "whale",
                                                      "loss_streak"}
    above = schemas["PriceAbove"]
    assert above["additionalProperties"] is False and set(above["required"]) == {"condition", "symbol", "price"}
    assert above["properties"]["symbol"]["examples"] == list(engine.source.symbols)
    assert above["properties"]["note"]["maxLength"] == 200
    assert schemas["Drawdown"]["properties"]["pct"]["exclusiveMaximum"] == 100
    journal = schemas["JournalEntryRequest"]
    assert journal["additionalProperties"] is False and "required" not in journal
    assert {"maximum": 5, "minimum": 1, "type": "integer"} in journal["properties"]["rating"]["anyOf"]
    trades = {p["name"]: p for p in doc["paths"]["/api/trades"]["get"]["parameters"]}
    assert trades["limit"]["in"] == "query" and trades["limit"]["schema"]["maximum"] == 1000
    toggle = doc["paths"]["/api/strategies/{name}/toggle"]["post"]
    assert toggle["parameters"][0]["in"] == "path" and "404" in toggle["responses"]
    assert toggle["requestBody"]["required"] is False  # the controls take no body
