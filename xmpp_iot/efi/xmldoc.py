"""Secure parsing and schema validation of payload documents: moved to :mod:`xmpp_iot.xmlcodec`
(shared by EFI and measurement payloads); these names stay importable from here."""

from ..xmlcodec import (
    DEFAULT_MAX_BYTES,
    SCHEMA_DIR,
    compiled_schema,
    element_path,
    etree_size,
    from_etree,
    parse_secure,
    raise_schema_error,
    to_etree,
)

__all__ = [
    "DEFAULT_MAX_BYTES",
    "SCHEMA_DIR",
    "compiled_schema",
    "element_path",
    "etree_size",
    "from_etree",
    "parse_secure",
    "raise_schema_error",
    "to_etree",
]
