"""The typed shape of every request a front end sends the bot, and the one error type for refusals.

The pydantic models here hold every rule about a request's *shape* (types, ranges, lengths,
which fields a kind of request takes); rules that need the running bot (is this symbol traded,
is there such a trade) are the command handler's (bot/commands.py). The dashboard validates
with these models and builds its OpenAPI document from their JSON schemas, so the document and
the checks cannot drift apart. parse_json() reads a raw body without recursion trouble.
"""
from __future__ import annotations

import json
import re
from functools import lru_cache
from typing import Annotated, ClassVar, Literal, Optional, Union, get_args

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, field_validator

from bot.config_rules import MAX_SPEED

MAX_JSON_DEPTH = 20
# A number that no field of ours can hold sensibly; far below float overflow.
MAX_AMOUNT = 1e15
MAX_MINUTES = 10_080  # a week
MAX_NOTE_CHARS = 200
MAX_TEXT_CHARS = 2000
MAX_QUERY_CHARS = 200
MAX_MESSAGE_CHARS = 500
MAX_TRADES_LIMIT = 1000
# int() refuses more than 4300 digits (CPython's guard); longer literals become inf, so the
# model refuses them naming the field instead of the parser refusing the whole body.
MAX_INT_DIGITS = 4000
CONDITIONS = ("above", "below", "pct_move", "drawdown", "whale", "loss_streak")
LEVELS = ("info", "success", "warning", "error")


class CommandError(Exception):
    """A refused request or command: a sentence for the user, the field at fault, an HTTP-like status."""

    def __init__(self, message: str, field: str | None = None, status: int = 400):
        super().__init__(message)
        self.message = message
        self.field = field
        self.status = status


_SURROGATE = re.compile("[\ud800-\udfff]")


def printable(text: str) -> str:
    """text with each lone surrogate replaced by U+FFFD, so an error message can always be encoded."""
    return _SURROGATE.sub("\ufffd", text)


# ----- raw JSON -----------------------------------------------------------------------------
_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|[\[\]{}:,]')


def check_depth(text: str, limit: int = MAX_JSON_DEPTH) -> None:
    """Refuse JSON nested deeper than limit, before json.loads (which recurses) sees it.

    A scan of the brackets outside strings; the error names the top-level member it is in.
    """
    if text.count("[") + text.count("{") <= limit:
        return  # cannot be deeper than the brackets it has
    depth, key, last_string = 0, None, None
    for match in _TOKEN.finditer(text):
        token = match.group()
        first = token[0]
        if first == '"':
            if depth == 1:
                last_string = token
        elif first in "[{":
            depth += 1
            if depth > limit:
                where = f"{key} is" if key else "the body is"
                raise CommandError(f"{where} nested more than {limit} levels deep", key)
        elif first in "]}":
            depth -= 1
        elif depth == 1:
            key = _decode_key(last_string) if first == ":" else None


def _decode_key(token: str | None) -> str | None:
    try:
        return printable(json.loads(token)) if token else None
    except ValueError:
        return None


def _parse_int(text: str):
    return int(text) if len(text) <= MAX_INT_DIGITS else float("inf")


def parse_json(raw: bytes) -> object:
    """Decode a request body: UTF-8, depth-bounded JSON; NaN, Infinity and huge numbers are
    left for the models to refuse by field."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise CommandError("the body must be UTF-8 encoded JSON") from None
    check_depth(text)
    try:
        return json.loads(text, parse_int=_parse_int)
    except ValueError as exc:
        raise CommandError(f"the body is not valid JSON ({printable(str(exc))})") from None


# ----- validation ---------------------------------------------------------------------------
class RequestModel(BaseModel):
    """Base of every request model: frozen, strict types, unknown fields refused."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)
    missing_message: ClassVar[str] = "{field} is required"
    extra_message: ClassVar[str] = "{field} is not a field of this request"

    @classmethod
    def extra_refusal(cls, field: str) -> str:
        """The sentence refusing an unknown field."""
        return cls.extra_message.format(field=field)


class QueryModel(RequestModel):
    """Base of the query-string models: values arrive as text, so numbers are parsed from it."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=False)
    extra_message: ClassVar[str] = "{field} is not a parameter of this request"


@lru_cache(maxsize=None)
def adapter(schema) -> TypeAdapter:
    """The (cached) pydantic validator for a model or an annotated union of models."""
    return TypeAdapter(schema)


def validate_request(schema, data: object):
    """data checked against schema; the first problem becomes a CommandError naming its field."""
    try:
        return adapter(schema).validate_python(data)
    except ValidationError as exc:
        raise _refusal(schema, exc.errors()[0]) from None


def _refusal(schema, error: dict) -> CommandError:
    kind, loc = error["type"], list(error["loc"])
    if kind in ("union_tag_invalid", "union_tag_not_found"):
        return CommandError(f"condition must be one of {', '.join(CONDITIONS)}", "condition")
    if kind == "string_unicode" and not loc[1 if _union_members(schema) else 0:]:
        name = printable(str(error.get("input")))  # a field *name* with a lone surrogate
        return CommandError(f"field name {name!r} is not valid Unicode text (it contains a lone surrogate)", name)
    model = schema
    if _union_members(schema):
        model = _union_members(schema)[loc.pop(0)] if loc else None
    if kind == "model_attributes_type" or model is None or not loc:
        return CommandError("the body must be a JSON object")
    field = printable(str(loc[0]))
    if kind == "missing":
        condition = _tag(model)
        article = "an" if condition[:1] in "aeiou" else "a"
        return CommandError(model.missing_message.format(field=field, condition=condition, a=article), field)
    if kind == "extra_forbidden":
        return CommandError(model.extra_refusal(field), field)
    if kind == "string_unicode":
        return CommandError(f"{field} must be valid Unicode text (it contains a lone surrogate)", field)
    if kind == "string_too_long":
        length = len(error["input"]) if isinstance(error.get("input"), str) else "more"
        return CommandError(f"{field} must be at most {error['ctx']['max_length']} characters (got {length})", field)
    info = model.model_fields.get(field)
    rule = info.description if info is not None and info.description else "valid"
    got = error.get("input")
    shown = f" (got {got!r})" if isinstance(got, (int, float)) and len(repr(got)) <= 24 else ""
    return CommandError(f"{field} must be {rule}{shown}", field)


def _tag(model) -> str:
    field = model.model_fields.get("condition")
    return get_args(field.annotation)[0] if field is not None else ""


@lru_cache(maxsize=None)
def _members(schema) -> tuple:
    return tuple((_tag(member), member) for member in get_args(get_args(schema)[0]))


def _union_members(schema) -> dict:
    """{tag: model} for a discriminated union of models, else {}."""
    if isinstance(schema, type):
        return {}
    return dict(_members(schema))


# ----- alert rules --------------------------------------------------------------------------
def _positive(description: str = "a positive number (at most 1e15)", **bounds):
    return Field(gt=0, allow_inf_nan=False, description=description, **({"le": MAX_AMOUNT} | bounds))


Symbol = Annotated[str, Field(min_length=1, max_length=40, description="one of the traded symbols, such as BTC/USDT")]
Exchange = Annotated[Optional[str], Field(max_length=40,
                                          description="one of the market's exchanges, or empty for any")]
Positive = Annotated[float, _positive()]


class AlertRuleBase(RequestModel):
    """What every alert rule takes besides its condition's own fields."""

    missing_message: ClassVar[str] = "{field} is required for {a} {condition} alert"
    label: ClassVar[str] = ""  # the condition in the rule form's words
    help: ClassVar[str] = ""  # the sentence the rule form shows for the condition
    suggested: ClassVar[dict] = {}  # the values the rule form starts with (not defaults: the field is required)
    repeat: bool = Field(False, description="true or false")
    cooldown_minutes: float = Field(0.0, ge=0, le=MAX_MINUTES, allow_inf_nan=False,
                                    description=f"a number from 0 to {MAX_MINUTES}")
    note: str = Field("", max_length=MAX_NOTE_CHARS, description=f"text of at most {MAX_NOTE_CHARS} characters")

    @classmethod
    def extra_refusal(cls, field: str) -> str:
        """The sentence refusing a field this condition does not take."""
        condition = _tag(cls)
        return f"{field} is not a setting of {'an' if condition[:1] in 'aeiou' else 'a'} {condition} alert"

    def spec(self) -> dict:
        """The fields AlertEngine.add takes."""
        return self.model_dump()


class _ExchangeBlank(AlertRuleBase):
    @field_validator("exchange", check_fields=False)
    @classmethod
    def _blank_is_any(cls, value):
        return value or None


class PriceAbove(_ExchangeBlank):
    """Fires when the price reaches the level from below."""

    label: ClassVar[str] = "Price rises to or above a level"
    help: ClassVar[str] = "Fires when the mid price reaches the level or goes above it (a gap over the level counts)."
    condition: Literal["above"]
    symbol: Symbol
    exchange: Exchange = None
    price: Positive


class PriceBelow(_ExchangeBlank):
    """Fires when the price reaches the level from above."""

    label: ClassVar[str] = "Price falls to or below a level"
    help: ClassVar[str] = "Fires when the mid price reaches the level or goes below it (a gap under the level counts)."
    condition: Literal["below"]
    symbol: Symbol
    exchange: Exchange = None
    price: Positive


class PercentMove(_ExchangeBlank):
    """Fires when the price moves pct percent (either way) within window_minutes."""

    label: ClassVar[str] = "Price moves by a % within a window"
    help: ClassVar[str] = "Fires when the price has moved this much, up or down, within the window."
    suggested: ClassVar[dict] = {"pct": 2, "window_minutes": 15}
    condition: Literal["pct_move"]
    symbol: Symbol
    exchange: Exchange = None
    pct: Positive
    window_minutes: float = _positive(f"a positive number of minutes, at most a week ({MAX_MINUTES})", le=MAX_MINUTES)


class Drawdown(AlertRuleBase):
    """Fires when the portfolio's drawdown from its peak reaches pct percent."""

    label: ClassVar[str] = "Portfolio drawdown goes beyond a %"
    help: ClassVar[str] = "Fires when the portfolio's equity is this far below its peak."
    suggested: ClassVar[dict] = {"pct": 10}
    condition: Literal["drawdown"]
    pct: float = _positive("a positive number below 100 for a drawdown alert", le=None, lt=100)


class Whale(AlertRuleBase):
    """Fires on a whale transfer worth at least min_usd (of the symbol's base asset, or any)."""

    label: ClassVar[str] = "A whale transfer exceeds a USD value"
    help: ClassVar[str] = "Fires on a single transfer worth at least this much, of one asset or of any."
    suggested: ClassVar[dict] = {"min_usd": 1000000}
    condition: Literal["whale"]
    symbol: Optional[Symbol] = None
    min_usd: Positive


class LossStreak(AlertRuleBase):
    """Fires when a strategy loses count trades in a row."""

    label: ClassVar[str] = "A strategy loses trades in a row"
    help: ClassVar[str] = "Fires when the strategy closes this many losing trades in a row (net of fees)."
    suggested: ClassVar[dict] = {"count": 3}
    condition: Literal["loss_streak"]
    strategy: str = Field(min_length=1, max_length=64, description="one of the bot's strategies")
    count: int = Field(ge=1, le=1000, description="a whole number from 1 to 1000")


AlertRuleRequest = Annotated[Union[PriceAbove, PriceBelow, PercentMove, Drawdown, Whale, LossStreak],
                             Field(discriminator="condition")]


# ----- journal, notifications, bodyless controls --------------------------------------------
JOURNAL_TEXT_FIELDS = ("entry_reason", "exit_reason", "lessons_learned")
JOURNAL_READ_ONLY = ("id", "strategy", "symbol", "created_at", "updated_at")
_TEXT = f"text of at most {MAX_TEXT_CHARS} characters, or null"


class JournalEntryRequest(RequestModel):
    """A journal entry's writable fields; for an edit, only the fields sent change."""

    trade_id: Optional[str] = Field(None, min_length=1, max_length=64,
                                    description="a trade id such as T00000042, or null for a general note")
    entry_reason: Optional[str] = Field(None, max_length=MAX_TEXT_CHARS, description=_TEXT)
    exit_reason: Optional[str] = Field(None, max_length=MAX_TEXT_CHARS, description=_TEXT)
    lessons_learned: Optional[str] = Field(None, max_length=MAX_TEXT_CHARS, description=_TEXT)
    confidence_level: Optional[int] = Field(None, ge=1, le=10, description="a whole number from 1 to 10, or null")
    rating: Optional[int] = Field(None, ge=1, le=5, description="a whole number from 1 to 5, or null")

    @classmethod
    def extra_refusal(cls, field: str) -> str:
        """The sentence refusing a field: read-only ones say so, others list what is allowed."""
        if field in JOURNAL_READ_ONLY:
            return f"{field} is set by the server and cannot be written"
        return f"unknown field {field!r}; allowed: {', '.join(cls.model_fields)}"

    def fields(self, partial: bool) -> dict:
        """The fields sent (partial) or every writable field, unsent ones as null."""
        return self.model_dump(include=self.model_fields_set if partial else None)


class NotificationRequest(RequestModel):
    """A notification the user sends by hand (to test the webhook, for instance)."""

    missing_message: ClassVar[str] = "{field} is required"
    extra_message: ClassVar[str] = "{field} is not a field of a notification (message, level)"
    message: str = Field(min_length=1, max_length=MAX_MESSAGE_CHARS,
                         description=f"text of 1 to {MAX_MESSAGE_CHARS} characters, not only spaces")
    level: Literal[LEVELS] = Field("info", description=f"one of {', '.join(LEVELS)}")

    @field_validator("message")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("blank")
        return value.strip()


class SpeedRequest(RequestModel):
    """POST /api/market/speed: how many simulated seconds pass per wall-clock second from now on."""

    extra_message: ClassVar[str] = "{field} is not a field of a speed change (speed)"
    speed: float = Field(gt=0, le=MAX_SPEED, allow_inf_nan=False,
                         description=f"a number of simulated seconds per wall-clock second, above 0 and at most "
                                     f"{MAX_SPEED:g}")


class NoBody(RequestModel):
    """The controls take no body; an empty object (what the pages send) is fine."""

    extra_message: ClassVar[str] = "{field} is not a field of this request (it takes no body)"


# ----- query strings ------------------------------------------------------------------------
class TradesQuery(QueryModel):
    """GET /api/trades."""

    limit: int = Field(100, ge=1, le=MAX_TRADES_LIMIT, description=f"a whole number from 1 to {MAX_TRADES_LIMIT}")
    strategy: Optional[str] = Field(None, max_length=64, description="a strategy name")


class RoundTripsQuery(QueryModel):
    """GET /api/roundtrips: filters (the running bot checks strategy and symbol) and paging."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=False, populate_by_name=True)

    strategy: Optional[str] = Field(None, max_length=64, description="a strategy name")
    symbol: Optional[str] = Field(None, max_length=64, description="a ccxt symbol such as BTC/USDT")
    status: Optional[Literal["open", "closed"]] = Field(None, description="open or closed")
    start: Optional[str] = Field(None, alias="from", max_length=40,
                                 description="ISO 8601 time or epoch seconds (market clock)")
    end: Optional[str] = Field(None, alias="to", max_length=40,
                               description="ISO 8601 time or epoch seconds (market clock)")
    limit: int = Field(100, ge=1, le=1000, description="a whole number from 1 to 1000")
    page: Optional[int] = Field(None, ge=1, le=10**9, description="1-based page (not with offset)")
    offset: Optional[int] = Field(None, ge=0, le=10**12, description="rows to skip (not with page)")


class JournalQuery(QueryModel):
    """GET /api/journal/entries."""

    trade_id: Optional[str] = Field(None, max_length=64, description="a trade id")
    strategy: Optional[str] = Field(None, max_length=64, description="a strategy name")
    q: Optional[str] = Field(None, max_length=MAX_QUERY_CHARS,
                             description=f"text to search for, at most {MAX_QUERY_CHARS} characters")


class ExecutionQuery(QueryModel):
    """GET /api/execution: optionally one strategy (the running bot checks the name)."""

    strategy: Optional[str] = Field(None, max_length=64, description="a strategy name")
