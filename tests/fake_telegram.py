"""A local stand-in for the Telegram Bot API on 127.0.0.1: getMe, getUpdates (long poll), sendMessage.

Tests push messages with `say(chat_id, text)`, read what the bot sent from `sent`, and script
failures with `fail(method, status, retry_after=None, times=1)`. `hold_sends()` makes every
sendMessage wait until `release()` (a Telegram that stopped answering).
"""
from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

TOKEN = "123456789:AAFakeTokenForTestsOnly_abcdefghij"


class FakeTelegram:
    """The fake Bot API; `url` goes into notifications.telegram.api_base_url."""

    def __init__(self, token: str = TOKEN):
        self.token = token
        self.updates: list[dict] = []
        self.sent: list[dict] = []
        self.calls: list[str] = []
        self.failures: dict[str, list[tuple[int, float | None]]] = {}
        self._next_update_id = 1000
        self._changed = threading.Condition()
        self._held = threading.Event()
        self._held.set()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                fake._answer(self, body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    # ----- what the tests do ---------------------------------------------------------------
    def say(self, chat_id: int, text: str) -> None:
        """A user in chat_id sends text to the bot."""
        with self._changed:
            self._next_update_id += 1
            self.updates.append({"update_id": self._next_update_id,
                                 "message": {"message_id": self._next_update_id, "date": int(time.time()),
                                             "chat": {"id": chat_id, "type": "private"}, "text": text}})
            self._changed.notify_all()

    def fail(self, method: str, status: int, retry_after: float | None = None, times: int = 1) -> None:
        """The next `times` calls of method answer with HTTP status (and retry_after on a 429)."""
        with self._changed:
            self.failures.setdefault(method, []).extend([(status, retry_after)] * times)

    def hold_sends(self) -> None:
        """Every sendMessage from now on waits for release()."""
        self._held.clear()

    def release(self) -> None:
        """Let held sendMessage calls go on."""
        self._held.set()

    def messages_to(self, chat_id: int) -> list[str]:
        """The texts sent to one chat, in order."""
        with self._changed:
            return [m["text"] for m in self.sent if m["chat_id"] == chat_id]

    def close(self) -> None:
        """Stop serving."""
        self.release()
        self.server.shutdown()
        self.server.server_close()

    # ----- the server side -----------------------------------------------------------------
    def _answer(self, handler: BaseHTTPRequestHandler, body: bytes) -> None:
        prefix = f"/bot{self.token}/"
        if not handler.path.startswith(prefix):
            return self._reply(handler, 401, {"ok": False, "error_code": 401, "description": "Unauthorized"})
        method = handler.path[len(prefix):]
        params = json.loads(body or b"{}")
        with self._changed:
            self.calls.append(method)
            scripted = self.failures.get(method)
            failure = scripted.pop(0) if scripted else None
        if failure is not None:
            status, retry_after = failure
            reply = {"ok": False, "error_code": status, "description": f"scripted {status}"}
            if retry_after is not None:
                reply["parameters"] = {"retry_after": retry_after}
            return self._reply(handler, status, reply)
        if method == "getMe":
            return self._reply(handler, 200, {"ok": True, "result": {"id": 1, "is_bot": True, "username": "fake_bot"}})
        if method == "getUpdates":
            return self._reply(handler, 200, {"ok": True, "result": self._updates(params)})
        if method == "sendMessage":
            self._held.wait(30)
            if not isinstance(params.get("chat_id"), int) or not isinstance(params.get("text"), str) \
                    or not params["text"]:
                return self._reply(handler, 400, {"ok": False, "error_code": 400, "description": "Bad Request"})
            with self._changed:
                self.sent.append({"chat_id": params["chat_id"], "text": params["text"]})
                self._changed.notify_all()
            return self._reply(handler, 200, {"ok": True, "result": {"message_id": len(self.sent)}})
        return self._reply(handler, 404, {"ok": False, "error_code": 404, "description": "Not Found"})

    def _updates(self, params: dict) -> list[dict]:
        offset = params.get("offset") or 0
        deadline = time.monotonic() + min(float(params.get("timeout") or 0), 2.0)
        with self._changed:
            while True:
                if offset:  # Telegram forgets what the offset acknowledges
                    self.updates = [u for u in self.updates if u["update_id"] >= offset]
                if self.updates:
                    return list(self.updates)
                left = deadline - time.monotonic()
                if left <= 0:
                    return []
                self._changed.wait(left)

    @staticmethod
    def _reply(handler: BaseHTTPRequestHandler, status: int, body: dict) -> None:
        data = json.dumps(body).encode("utf-8")
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        handler.wfile.write(data)
