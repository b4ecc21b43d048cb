"""Read an HTML report's figures back, with the standard library's parser (not the report's code).

Every key figure of the report is an element with data-figure (its name) and data-value
(Python's repr of the number, empty for none) around the text shown.
"""
from __future__ import annotations

from html.parser import HTMLParser


VOID = frozenset({"br", "meta", "link", "img", "input", "hr", "wbr", "source"})


class _Figures(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.figures: dict[str, dict] = {}
        self._open: list[tuple[str, str | None]] = []  # (tag, figure name or None)
        self.scripts = 0
        self.external: list[str] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "script":
            self.scripts += 1
        for name in ("src", "href"):
            if attrs.get(name) and not attrs[name].startswith(("#", "data:")):
                self.external.append(f"{tag} {name}={attrs[name]}")
        name = attrs.get("data-figure")
        if name is not None:
            raw = attrs.get("data-value", "")
            self.figures[name] = {"value": float(raw) if raw not in ("", "None") else None, "text": ""}
        if tag not in VOID:
            self._open.append((tag, name))

    def handle_startendtag(self, tag, attrs):  # <line ... />: opens and closes at once
        self.handle_starttag(tag, attrs)
        if tag not in VOID:
            self._open.pop()

    def handle_endtag(self, tag):
        if any(open_tag == tag for open_tag, _ in self._open):
            while self._open and self._open.pop()[0] != tag:
                pass

    def handle_data(self, data):
        for _, name in self._open:
            if name is not None:
                self.figures[name]["text"] += data


def report_figures(html: str) -> dict[str, dict]:
    """{figure name: {"value": float | None, "text": the words shown}} of a report."""
    parser = _Figures()
    parser.feed(html)
    return parser.figures


def report_outside_references(html: str) -> tuple[int, list[str]]:
    """(number of <script> elements, every src/href that would load something) of a report."""
    parser = _Figures()
    parser.feed(html)
    return parser.scripts, parser.external
