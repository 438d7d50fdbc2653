"""XEP-0347 Internet of Things - Discovery: model, wire format and the client plugin."""

from .model import (
    KEY,
    NS,
    Condition,
    NodeRef,
    Tag,
    Thing,
    compare,
    decode_iotdisco,
    encode_iotdisco,
    eq,
    in_range,
    mask,
    num_tag,
    str_tag,
)

__all__ = [
    "KEY",
    "NS",
    "Condition",
    "NodeRef",
    "Tag",
    "Thing",
    "compare",
    "decode_iotdisco",
    "encode_iotdisco",
    "eq",
    "in_range",
    "mask",
    "num_tag",
    "str_tag",
]
