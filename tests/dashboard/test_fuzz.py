"""Fuzz every /api endpoint from the API's own OpenAPI document (GET /api/openapi.json).

Hypothesis strategies are derived from the document's schemas (valid values, the live examples
it lists) and then spoiled with hostile values: lone surrogates, huge and non-finite numbers,
deep JSON, wrong types, unknown fields, oversized strings, bodies that are not JSON. The run
is derandomized (same requests every run). Asserted for every request: no 5xx; and when it is
refused (4xx), the data files (bytes on disk) and an API snapshot are what they were before.
Schemathesis is not used: its runner would own the request loop, and the check here needs the
engine's files and a snapshot around each single request, and raw bodies no schema describes.
"""
from __future__ import annotations

import json
import time
from collections import Counter
from pathlib import Path
from urllib.parse import quote

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from bot.commands import StartBot

REQUESTS = 2_100
SNAPSHOT_PATHS = ("/api/portfolio", "/api/alerts", "/api/journal/entries", "/api/strategies/performance")
VOLATILE = frozenset({"sent_at", "broadcast_seq", "uptime_seconds"})
SURROGATES = ("\ud800", "a\udfffb", "\udbff\udbff", "ok\ud83d")
DEEP = "[" * 30_000 + "]" * 30_000


class Raw:
    """JSON text put verbatim into a body (what json.dumps cannot write: 5000 digits, deep nesting)."""

    def __init__(self, text: str):
        self.text = text




def one_of_these(values: list) -> st.SearchStrategy:
    """sampled_from without a 60 kB repr of the values in every report."""
    return st.integers(0, len(values) - 1).map(values.__getitem__)


HOSTILE_VALUES = st.one_of(
    st.sampled_from(SURROGATES),
    st.sampled_from([10 ** 400, -(10 ** 400), 2 ** 64, -1, 0, 1e308, -0.0, 5e-324]),
    st.sampled_from([float("nan"), float("inf"), float("-inf")]),
    one_of_these([Raw("9" * 5000), Raw("1e400"), Raw(DEEP), Raw('{"a":' * 40 + "1" + "}" * 40)]),
    st.sampled_from([True, False, None, "", " ", [], {}, [1, 2], {"x": 1}, "1", "NaN", "null"]),
    one_of_these(["é" * 2001, "x" * 201, "y" * 501, "z" * 65]),
    one_of_these(["x" * 70_000]),  # over the 64 KiB body limit: 413
    st.text(max_size=20),
)
HOSTILE_BODIES = one_of_these([
    DEEP.encode(), b'{"a":' * 10_000 + b"1" + b"}" * 10_000, b"\xff\xfe{}", b"{", b"[1, 2]", b'"text"', b"null",
    b"NaN", b"", b" ", '{"note": "\\ud800"}'.encode(), b'{"x": 1}', b"{}", b"\xef\xbb\xbf{}",
])


# ----- strategies from JSON schema --------------------------------------------------------
def from_schema(schema: dict, components: dict, depth: int = 0) -> st.SearchStrategy:
    """Valid values for the subset of JSON Schema pydantic writes (refs, unions, objects, scalars)."""
    if "$ref" in schema:
        return from_schema(components[schema["$ref"].rsplit("/", 1)[1]], components, depth)
    if "examples" in schema:  # mostly the live valid values, sometimes any value of the right shape
        others = from_schema({k: v for k, v in schema.items() if k != "examples"}, components, depth)
        return st.one_of(st.sampled_from(schema["examples"]), others)
    for key in ("oneOf", "anyOf"):
        if key in schema:
            return st.one_of([from_schema(branch, components, depth) for branch in schema[key]])
    if "const" in schema:
        return st.just(schema["const"])
    if "enum" in schema:
        return st.sampled_from(schema["enum"])
    kind = schema.get("type")
    if kind == "string":
        return st.text(min_size=schema.get("minLength", 0), max_size=min(schema.get("maxLength", 40), 40))
    if kind == "integer":
        return st.integers(schema.get("minimum", -10 ** 6), schema.get("maximum", 10 ** 6))
    if kind == "number":
        low = schema.get("minimum", schema.get("exclusiveMinimum", -1e6))
        high = schema.get("maximum", schema.get("exclusiveMaximum", 1e6))
        return st.floats(low, high, allow_nan=False, allow_infinity=False,
                         exclude_min="exclusiveMinimum" in schema, exclude_max="exclusiveMaximum" in schema)
    if kind == "boolean":
        return st.booleans()
    if kind == "null":
        return st.none()
    if kind == "object" and depth < 3:
        return _object(schema, components, depth)
    return st.just({})


def _object(schema: dict, components: dict, depth: int) -> st.SearchStrategy:
    properties = schema.get("properties", {})
    required = set(schema.get("required", ()))
    fields = {name: from_schema(prop, components, depth + 1) for name, prop in properties.items()}
    return st.fixed_dictionaries({name: fields[name] for name in properties if name in required},
                                 optional={name: fields[name] for name in properties if name not in required})


@st.composite
def spoiled(draw, valid: st.SearchStrategy):
    """A valid value, often spoiled: a field hostile, an unknown field, a required one dropped."""
    value = draw(valid)
    if not isinstance(value, dict) or draw(st.integers(0, 9)) not in (4, 5, 6):  # mid-range: Hypothesis leans to 0
        return value
    value = dict(value)
    action = draw(st.sampled_from(["hostile", "hostile", "unknown", "drop", "read_only"]))
    if action == "hostile" and value:
        value[draw(st.sampled_from(sorted(value)))] = draw(HOSTILE_VALUES)
    elif action == "unknown":
        value[draw(st.one_of(st.text(max_size=12), st.sampled_from(SURROGATES)))] = draw(HOSTILE_VALUES)
    elif action == "drop" and value:
        value.pop(draw(st.sampled_from(sorted(value))))
    elif action == "read_only":
        value[draw(st.sampled_from(["id", "created_at", "strategy", "armed", "trigger_count"]))] = "x"
    return value


def encode(value) -> bytes:
    """JSON with NaN/Infinity allowed and lone surrogates escaped; Raw parts spliced in verbatim."""
    raws: list[str] = []

    def mark(item):
        if isinstance(item, Raw):
            raws.append(item.text)
            return f"\x00RAW{len(raws) - 1}\x00"
        if isinstance(item, dict):
            return {key: mark(v) for key, v in item.items()}
        if isinstance(item, list):
            return [mark(v) for v in item]
        return item

    text = json.dumps(mark(value), allow_nan=True)
    for number, raw in enumerate(raws):
        text = text.replace(json.dumps(f"\x00RAW{number}\x00"), raw)
    return text.encode("utf-8")


# ----- the state a refused request must not touch ------------------------------------------
def data_files(engine) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(Path(engine.data_dir).iterdir()) if p.is_file()}


def strip(value):
    if isinstance(value, dict):
        return {k: strip(v) for k, v in value.items() if k not in VOLATILE}
    if isinstance(value, list):
        return [strip(v) for v in value]
    return value


def snapshot(client, engine) -> tuple:
    answers = {path: strip(client.get(path).get_json()) for path in SNAPSHOT_PATHS}
    return data_files(engine), answers, engine.state, dict(engine.manager.enabled)


# ----- the run ---------------------------------------------------------------------------
def operations(document: dict) -> list[tuple[str, str, dict]]:
    return [(path, method, operation) for path, methods in document["paths"].items()
            for method, operation in methods.items()]


def live_ids(client) -> dict[str, list[str]]:
    """Ids that exist now, so path parameters sometimes name a real rule or entry."""
    alerts = client.get("/api/alerts").get_json()["rules"]
    entries = client.get("/api/journal/entries").get_json()["entries"]
    return {"rule_id": [r["id"] for r in alerts][-5:], "entry_id": [e["id"] for e in entries][-5:]}


def url_part(text: str) -> str:
    """Percent-encoded UTF-8, lone surrogates included (as the bytes a careless client would send)."""
    return quote(text.encode("utf-8", "surrogatepass"), safe="")


@st.composite
def api_request(draw, document: dict, ids: dict):
    components = document["components"]["schemas"]
    path, method, operation = draw(st.sampled_from(operations(document)))
    for parameter in (p for p in operation["parameters"] if p["in"] == "path"):
        # Every draw is made whatever exists now (Hypothesis needs the same draws for the same
        # choices); which live id a pick names is resolved afterwards.
        mode = draw(st.integers(0, 3))
        generated = draw(from_schema(parameter["schema"], components))
        hostile = draw(st.sampled_from(SURROGATES + ("..", "%00", " ")))
        pick = draw(st.integers(0, 4))
        live = ids.get(parameter["name"]) or [f"missing{pick}"]
        value = [generated, hostile, live[pick % len(live)], live[pick % len(live)]][mode] or "x"
        path = path.replace("{" + parameter["name"] + "}", url_part(str(value)))
    query = {}
    for parameter in (p for p in operation["parameters"] if p["in"] == "query"):
        if draw(st.booleans()):
            value = draw(st.one_of(from_schema(parameter["schema"], components), HOSTILE_VALUES))
            text = value if isinstance(value, str) else value.text if isinstance(value, Raw) else json.dumps(value)
            query[parameter["name"]] = text[:3000]
    if query and draw(st.integers(0, 9)) == 5:
        query[draw(st.text(min_size=1, max_size=8))] = "1"
    query = "&".join(f"{url_part(name)}={url_part(value)}" for name, value in query.items())
    body = None
    if "requestBody" in operation:
        schema = operation["requestBody"]["content"]["application/json"]["schema"]
        roll = draw(st.integers(0, 19))
        if roll == 9:
            body = draw(HOSTILE_BODIES)
        elif roll == 10:
            body = encode(draw(HOSTILE_VALUES))
        else:
            body = encode(draw(spoiled(from_schema(schema, components))))
    headers = {}
    if method != "get":
        headers["X-CSRF-Token"] = "stolen" if draw(st.integers(0, 39)) == 17 else "TOKEN"
        headers["Content-Type"] = "text/plain" if draw(st.integers(0, 39)) == 23 else "application/json"
    return method, path, query, body, headers


def test_fuzz_every_endpoint_from_the_openapi_document(dashboard, engine, capsys):
    app, _ = dashboard
    client = app.test_client()
    document = client.get("/api/openapi.json").get_json()
    token = app.config["DASHBOARD_CSRF_TOKEN"]
    statuses: Counter = Counter()
    state = {"before": snapshot(client, engine), "ids": live_ids(client), "sent": 0}
    started = time.perf_counter()

    @settings(max_examples=REQUESTS, derandomize=True, database=None, deadline=None, phases=[Phase.generate],
              suppress_health_check=list(HealthCheck))
    @given(st.data())
    def one_request(data):
        method, path, query, body, headers = data.draw(api_request(document, state["ids"]))
        if headers.get("X-CSRF-Token") == "TOKEN":
            headers["X-CSRF-Token"] = token
        response = client.open(path, method=method.upper(), query_string=query, data=body, headers=headers)
        state["sent"] += 1
        statuses[response.status_code] += 1
        assert response.status_code < 500, (method, path, query, body[:300] if body else body,
                                            response.get_data(as_text=True)[:500])
        after = snapshot(client, engine)
        if not 200 <= response.status_code < 300:  # refused (or redirected): nothing may change
            assert after == state["before"], ("a refused request changed something", method, path, query,
                                              body[:300] if body else body, response.get_json())
        else:
            state["ids"] = live_ids(client)
        if state["sent"] % 150 == 0:  # let the market move: stored rules are checked on real ticks
            engine.run_fast(20)
            after = snapshot(client, engine)
        state["before"] = after

    one_request()
    seconds = time.perf_counter() - started
    with capsys.disabled():
        split = ", ".join(f"{status}: {count}" for status, count in sorted(statuses.items()))
        print(f"\nfuzz: {state['sent']} requests in {seconds:.1f} s; by status {split}")
    assert state["sent"] >= 2_000
    assert not [status for status in statuses if status >= 500]
    assert statuses[200] + statuses[201] > 100 and sum(n for s, n in statuses.items() if s >= 400) > 500
    ticks = engine.ticks_run
    engine.commands.handle(StartBot())
    engine.run_fast(10)
    assert engine.ticks_run == ticks + 10 and engine.state == "running"  # whatever was stored, ticks go on
