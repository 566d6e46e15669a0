"""A streamfan consumer group in Python, through streamfan's own Lua scripts (docs/PROTOCOL.md)."""
from .consumer import PROTOCOL_VERSION, Consumer, Context, DeadLetter, GroupRetiredError, ProtocolVersionError, exponential_backoff

__all__ = ["PROTOCOL_VERSION", "Consumer", "Context", "DeadLetter", "GroupRetiredError", "ProtocolVersionError", "exponential_backoff"]
