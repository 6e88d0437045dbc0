"""Messages: what a student's kernel sends the grader, decoded as untrusted input.

Every message from the kernel passes through `GuardedSession.deserialize` (jupyter_client's Session
decodes the messages of every channel there). Its JSON parts are decoded with limits: on their size,
how deeply they nest, how long a number may be, and on text that is not valid unicode (a lone
surrogate becomes U+FFFD, since no page or gradebook could store it). A message that breaks a limit
does not stop the grader: an output becomes a line on stderr saying what was dropped, an execute
reply becomes an error the cell ends with (so the cell earns nothing), anything else arrives empty,
and a message whose header cannot be read arrives addressed to nobody, which the client ignores.
"""

import json
from typing import Any

from jupyter_client.jsonutil import json_default
from jupyter_client.session import Session

MAX_MESSAGE_BYTES = 64 * 1024**2
"""Largest message, all its parts together, that the grader decodes."""

MAX_HEADER_BYTES = 64 * 1024
"""Largest header, parent header or metadata part."""

MAX_DEPTH = 64
"""How deeply lists and dicts may nest in one part."""

MAX_DIGITS = 1000
"""Longest integer or decimal number, in characters."""

OUTPUTS = frozenset({"stream", "display_data", "execute_result", "update_display_data", "error"})
"""The message types that become a cell's outputs."""


class UntrustedMessage(ValueError):
    """A part of a kernel's message broke a limit; the message says which."""


class GuardedSession(Session):
    """jupyter_client's Session, decoding the kernel's messages with the limits of this module."""

    def deserialize(self, msg_list: list, content: bool = True, copy: bool = True) -> dict[str, Any]:
        size = sum(len(part) for part in msg_list)
        try:
            if size > MAX_MESSAGE_BYTES:
                message = super().deserialize(msg_list[:5], content=False, copy=copy)
                limit = MAX_MESSAGE_BYTES // 1024**2
                return _replaced(message, f"{size / 1024**2:.0f} MB, more than {limit} MB")
            message = super().deserialize(msg_list, content=False, copy=copy)
            if not (isinstance(message["msg_id"], str) and isinstance(message["msg_type"], str)):
                return _nobody()
        except Exception:  # whatever a header that is not jupyter's makes jupyter_client raise
            return _nobody()
        if self.auth is not None:
            self._add_digest(msg_list[0])  # jupyter_client does this only when it decodes the content
        try:
            message["content"] = decode(message["content"], MAX_MESSAGE_BYTES) if content else {}
            if not isinstance(message["content"], dict):
                raise UntrustedMessage("content that is not an object")
        except UntrustedMessage as error:
            return _replaced(message, str(error))
        return message

    def unpack(self, data: bytes | str) -> Any:
        """Decode a header, parent header or metadata part (jupyter_client calls this for each)."""
        value = decode(data, MAX_HEADER_BYTES)
        if not isinstance(value, dict):
            raise UntrustedMessage("a header that is not an object")
        return value

    def pack(self, value: Any) -> bytes:
        """Encode a message part for the kernel; text that is not valid unicode (a lone surrogate) becomes '?'."""
        text = json.dumps(value, default=json_default, ensure_ascii=False, allow_nan=False)
        return text.encode("utf-8", "replace")

    def __setattr__(self, name: str, value: Any) -> None:
        # Session sets `pack` and `unpack` from its `packer` and `unpacker` settings; ours always win.
        if name in ("pack", "unpack"):
            return
        super().__setattr__(name, value)


def decode(data: bytes | str | memoryview, limit: int) -> Any:
    """One JSON part of a message, or UntrustedMessage saying which limit it broke."""
    if len(data) > limit:
        raise UntrustedMessage(f"a part of {len(data)} bytes, more than {limit}")
    if not isinstance(data, str):
        data = bytes(data).decode("utf-8", "replace")
    try:
        value = json.loads(data, parse_int=_number(int), parse_float=_number(float))
    except UntrustedMessage:
        raise
    except RecursionError:
        raise UntrustedMessage(f"JSON nested more than {MAX_DEPTH} levels deep") from None
    except ValueError as error:  # also json.JSONDecodeError
        raise UntrustedMessage(f"JSON that cannot be read ({str(error)[:200]})") from None
    return _checked(value)


def _number(kind: type) -> Any:
    def parse(text: str) -> Any:
        if len(text) > MAX_DIGITS:
            raise UntrustedMessage(f"a number of {len(text)} digits, more than {MAX_DIGITS}")
        return kind(text)

    return parse


def _checked(value: Any) -> Any:
    """`value` with every invalid string repaired; UntrustedMessage if it nests too deeply."""
    stack = [(value, 0)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise UntrustedMessage(f"JSON nested more than {MAX_DEPTH} levels deep")
        if isinstance(node, dict):
            if any(isinstance(k, str) and not _valid(k) for k in node):
                repaired = {_text(k): v for k, v in node.items()}
                node.clear()
                node.update(repaired)
            for key, item in node.items():
                if isinstance(item, str):
                    node[key] = _text(item)
                elif isinstance(item, dict | list):
                    stack.append((item, depth + 1))
        elif isinstance(node, list):
            for index, item in enumerate(node):
                if isinstance(item, str):
                    node[index] = _text(item)
                elif isinstance(item, dict | list):
                    stack.append((item, depth + 1))
    return _text(value) if isinstance(value, str) else value


def _valid(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _text(text: str) -> str:
    """`text`, with each lone surrogate (valid JSON, not valid unicode) replaced by U+FFFD."""
    if text.isascii() or _valid(text):
        return text
    return text.encode("utf-8", "surrogatepass").decode("utf-8", "replace")


def _replaced(message: dict[str, Any], reason: str) -> dict[str, Any]:
    """`message` with its content, which broke a limit, replaced by what says so."""
    note = f"[a message from the kernel was dropped: {reason}]"
    kind = message["msg_type"]
    message["buffers"] = []
    if kind in OUTPUTS:
        message["msg_type"] = message["header"]["msg_type"] = "stream"
        message["content"] = {"name": "stderr", "text": note + "\n"}
    elif kind == "execute_reply":
        message["content"] = {"status": "error", "ename": "UntrustedMessage", "evalue": note, "traceback": []}
    elif kind == "status":
        message["content"] = {"execution_state": "busy"}
    else:
        message["content"] = {}
    return message


def _nobody() -> dict[str, Any]:
    """A message no request is waiting for: what an unreadable one becomes."""
    header = {"msg_id": "", "msg_type": "unreadable", "session": "", "username": "", "version": "5.3"}
    return {
        "header": header,
        "msg_id": "",
        "msg_type": "unreadable",
        "parent_header": {},
        "metadata": {},
        "content": {},
        "buffers": [],
    }
