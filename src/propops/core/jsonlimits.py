"""Bounds on the shape of a JSON request body, checked on the raw bytes before anything parses it.

Why before parsing: a body nested a thousand levels deep made a handler's own ``json.loads`` raise
RecursionError (a 500), and a million-item array costs every parser (and pydantic after it) time and
memory before any schema can refuse it. The check is a scan, not a parse:

- fast path (almost every request): fewer brackets than the depth limit and fewer commas than the
  item limit cannot break either limit; two ``bytes.count`` calls;
- otherwise string literals are blanked out (one regular-expression pass), everything but brackets
  and commas is dropped (``bytes.translate``, C speed) and that skeleton is walked once, stopping at
  the first container past a limit. A 200 KB drawn polygon of 5,000 vertices takes about 2 ms; the
  worst 1 MB body (``max_json_body_bytes``) a few tens of milliseconds.

Malformed JSON is left for the parser to refuse with its own 400; this only measures.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_NOT_SKELETON = bytes(b for b in range(256) if b not in b"[]{},")
_OPEN_ARRAY, _OPEN_OBJECT, _CLOSE_ARRAY, _CLOSE_OBJECT, _COMMA = b"[{]},"


@dataclass(frozen=True)
class ShapeError:
    limit: str  # "depth" or "items"
    message: str


def check_shape(body: bytes, max_depth: int, max_items: int) -> ShapeError | None:
    """None when ``body`` nests at most ``max_depth`` levels and no array or object holds more than
    ``max_items`` items; otherwise which limit it breaks."""
    if body.count(b"[") + body.count(b"{") <= max_depth and body.count(b",") < max_items:
        return None
    text = _STRING.sub(b'""', body) if b'"' in body else body
    skeleton = text.translate(None, _NOT_SKELETON)
    commas = [0]  # per open container (and the top level): its commas so far
    for ch in skeleton:
        if ch == _COMMA:
            commas[-1] += 1
            if commas[-1] >= max_items and len(commas) > 1:
                return ShapeError("items", f"has an array or object of more than {max_items} items")
        elif ch in (_OPEN_ARRAY, _OPEN_OBJECT):
            commas.append(0)
            if len(commas) > max_depth + 1:
                return ShapeError("depth", f"is nested deeper than {max_depth} levels")
        elif len(commas) > 1:
            commas.pop()
    return None
