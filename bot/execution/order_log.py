"""data/orders.jsonl: the life of every resting order, one event per line, append-only.

A line: {"schema_version", "event" (placed, partially_filled, filled, cancelled, expired,
rejected, triggered, updated), "ts" (ISO 8601 UTC, market time), "order": every field of the
order after the event (bot/execution/resting.RestingOrder), "trade_ids": the ledger trades the
event booked}. Fills themselves are trades in data/trades.jsonl (signal_id = the order id), so
the ledger stays the truth of balances; this file is the truth of what rests and where it
stands in its queue. Written through bot/storage.JsonlWriter; read back by replay().
"""
from __future__ import annotations

from pathlib import Path
from typing import Iterable

from bot.execution.resting import RestingOrder
from bot.timestamps import iso_utc
from bot.storage import SCHEMA_VERSION, JsonlWriter
from bot.storage_reading import iter_jsonl

ORDERS_FILE = "orders.jsonl"
ORDER_EVENTS = ("placed", "triggered", "updated", "partially_filled", "filled", "cancelled", "expired", "rejected")


def order_event(event: str, ts: float, order: RestingOrder, trade_ids: Iterable[str] = ()) -> dict:
    """The orders.jsonl line for one event of an order."""
    if event not in ORDER_EVENTS:
        raise ValueError(f"event must be one of {', '.join(ORDER_EVENTS)} (got {event!r})")
    return {"schema_version": SCHEMA_VERSION, "event": event, "ts": iso_utc(ts), "order": order.to_dict(),
            "trade_ids": list(trade_ids)}


def replay(path: str | Path) -> tuple[dict[str, RestingOrder], int]:
    """Every order as its last event left it, by id (placement order), and the number of events read."""
    orders: dict[str, RestingOrder] = {}
    count = 0
    path = Path(path)
    if not path.exists():
        return orders, 0
    for record in iter_jsonl(path):
        count += 1
        order = RestingOrder.from_dict(record["order"])
        orders[order.id] = order
    return orders, count


class OrderLog:
    """Appends order events to data/orders.jsonl (opened on the first event)."""

    def __init__(self, data_dir: str | Path, fsync: bool = False):
        self.path = Path(data_dir) / ORDERS_FILE
        self.fsync = fsync
        self._writer: JsonlWriter | None = None

    def append(self, event: str, ts: float, order: RestingOrder, trade_ids: Iterable[str] = ()) -> None:
        """Write one event (StorageError when the disk refuses; the file is then as it was)."""
        if self._writer is None:
            self._writer = JsonlWriter(self.path, fsync=self.fsync)
        self._writer.append(order_event(event, ts, order, trade_ids))

    def close(self) -> None:
        """Close the file (a later append reopens it)."""
        if self._writer is not None:
            self._writer.close()
            self._writer = None
