"""Secure parsing and schema validation of payload documents (EFI and measurement).

One place decides how untrusted bytes become an lxml tree: a size limit before parsing, a parser that
never touches the network, never expands entities and refuses DOCTYPEs and huge trees, and validation
against our compiled XSD (compiled once per thread; lxml's XMLSchema is not safe to share across
threads while validating). Every failure is raised as the caller's :class:`PayloadValidationError`
subclass with the element path and the reason.
"""

from __future__ import annotations

import os
import threading
import xml.etree.ElementTree as ET
from pathlib import Path

from lxml import etree

from .errors import PayloadValidationError

__all__ = [
    "DEFAULT_MAX_BYTES",
    "SCHEMA_DIR",
    "compiled_schema",
    "from_etree",
    "parse_secure",
    "raise_schema_error",
    "to_etree",
]

#: default upper bound for one payload document; EFI messages of real devices are a few KiB
DEFAULT_MAX_BYTES = 256 * 1024

#: where our XSDs live: $XMPP_IOT_SCHEMA_DIR, else the repository's ``schemas/`` folder
SCHEMA_DIR = Path(os.environ.get("XMPP_IOT_SCHEMA_DIR") or Path(__file__).resolve().parents[2] / "schemas")

_local = threading.local()


def _parser() -> etree.XMLParser:
    parser = getattr(_local, "parser", None)
    if parser is None:
        parser = etree.XMLParser(
            resolve_entities=False,
            no_network=True,
            load_dtd=False,
            dtd_validation=False,
            huge_tree=False,
            remove_comments=True,
            remove_pis=True,
            collect_ids=False,
        )
        _local.parser = parser
    return parser


def compiled_schema(filename: str) -> etree.XMLSchema:
    """Our XSD ``filename`` from :data:`SCHEMA_DIR`, compiled once per thread."""
    cache: dict[str, etree.XMLSchema] | None = getattr(_local, "schemas", None)
    if cache is None:
        cache = _local.schemas = {}
    schema = cache.get(filename)
    if schema is None:
        doc = etree.parse(str(SCHEMA_DIR / filename), etree.XMLParser(no_network=True, resolve_entities=False))
        schema = cache[filename] = etree.XMLSchema(doc)
    return schema


def parse_secure(data: bytes | str, max_bytes: int, error: type[PayloadValidationError]) -> etree._Element:
    """Bytes → root element, or ``error`` (oversized, not well-formed, DOCTYPE present)."""
    if isinstance(data, str):
        data = data.encode("utf-8")
    if len(data) > max_bytes:
        raise error("(document)", f"document is {len(data)} bytes, more than the limit of {max_bytes} bytes")
    try:
        root = etree.fromstring(data, _parser())
    except etree.XMLSyntaxError as exc:
        raise error("(document)", f"not well-formed XML: {exc.msg or exc}") from None
    if root.getroottree().docinfo.doctype:
        raise error("(document)", "DOCTYPE declarations are not allowed in payloads")
    return root


def raise_schema_error(
    schema: etree.XMLSchema, prefixes: dict[str, str], error: type[PayloadValidationError]
) -> None:
    """Turn the first error of a failed validation into ``error`` naming the element."""
    entry = schema.error_log[0] if len(schema.error_log) else None
    if entry is None:
        raise error("(document)", "schema validation failed")
    message = entry.message
    for ns, prefix in prefixes.items():
        message = message.replace("{" + ns + "}", prefix + ":")
    raise error(entry.path or "(document)", f"schema violation: {message}")


def to_etree(element: etree._Element) -> ET.Element:
    """lxml element → xml.etree element (what slixmpp stanzas carry)."""
    return ET.fromstring(etree.tostring(element))


def from_etree(element: ET.Element) -> bytes:
    """xml.etree element → bytes for the secure parser (one serialisation, measured to be cheap)."""
    return ET.tostring(element)
