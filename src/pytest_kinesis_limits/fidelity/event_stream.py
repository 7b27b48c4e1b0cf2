"""The AWS event stream encoding (``application/vnd.amazon.eventstream``), the service's side of it.

SubscribeToShard answers with an event stream: binary messages, each a prelude (total length, headers length, the
prelude's CRC32), headers (name, type 7 = string, value), a payload and the message's CRC32, all big-endian. On a
JSON protocol the first message is an ``initial-response`` event (botocore refuses a stream without it: "First event
was not of type initial-response"), then ``SubscribeToShardEvent`` events, or an ``exception`` message that ends it.
botocore decodes the format (``botocore.eventstream``); this module writes it, and the tests read what it writes back
with botocore's own decoder. Library code: no moto, no pytest.
"""

from __future__ import annotations

import json
import zlib
from typing import Any

_STRING = 7
CONTENT_TYPE = "application/vnd.amazon.eventstream"


def _header(name: str, value: str) -> bytes:
    key, text = name.encode(), value.encode()
    return bytes([len(key)]) + key + bytes([_STRING]) + len(text).to_bytes(2, "big") + text


def message(headers: dict[str, str], payload: bytes) -> bytes:
    """One event stream message."""
    encoded = b"".join(_header(name, value) for name, value in headers.items())
    total = 12 + len(encoded) + len(payload) + 4
    prelude = total.to_bytes(4, "big") + len(encoded).to_bytes(4, "big")
    head = prelude + zlib.crc32(prelude).to_bytes(4, "big")
    body = head + encoded + payload
    return body + zlib.crc32(body).to_bytes(4, "big")


def event(event_type: str, payload: Any) -> bytes:
    """An event whose payload is ``payload`` as JSON."""
    return message({":message-type": "event", ":event-type": event_type, ":content-type": "application/json"},
                   json.dumps(payload, separators=(",", ":")).encode())


def initial_response() -> bytes:
    """The first message of a JSON protocol's event stream."""
    return event("initial-response", {})


def exception(code: str, text: str) -> bytes:
    """An exception message: botocore raises it as ``EventStreamError`` with that code, and the stream ends."""
    return message({":message-type": "exception", ":exception-type": code, ":content-type": "application/json"},
                   json.dumps({"message": text}).encode())


__all__ = ["CONTENT_TYPE", "event", "exception", "initial_response", "message"]
