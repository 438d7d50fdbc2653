"""Validated XML payload codecs: secure parsing, schema validation and the codec shape they share.

EFI (:mod:`xmpp_iot.efi.codec`) and measurement (:mod:`xmpp_iot.measurement.codec`) payloads go
through the same pipeline; :class:`XmlCodec` is that pipeline once (size limit, secure parse, schema,
element in and out), and the subclasses only map between their elements and their objects.

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
from datetime import tzinfo
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar, Generic, TypeVar

from lxml import etree

if TYPE_CHECKING:
    from .efi.errors import PayloadValidationError

__all__ = [
    "DEFAULT_MAX_BYTES",
    "SCHEMA_DIR",
    "XmlCodec",
    "compiled_schema",
    "element_path",
    "etree_size",
    "from_etree",
    "parse_secure",
    "raise_schema_error",
    "to_etree",
]

#: default upper bound for one payload document; EFI messages of real devices are a few KiB
DEFAULT_MAX_BYTES = 256 * 1024

#: where our XSDs live: $XMPP_IOT_SCHEMA_DIR, else the repository's ``schemas/`` folder
SCHEMA_DIR = Path(os.environ.get("XMPP_IOT_SCHEMA_DIR") or Path(__file__).resolve().parents[1] / "schemas")

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
    schema: etree.XMLSchema,
    prefixes: dict[str, str],
    error: type[PayloadValidationError],
    root: etree._Element | None = None,
) -> None:
    """Turn the first error of a failed validation into ``error`` naming the element."""
    entry = schema.error_log[0] if len(schema.error_log) else None
    if entry is None:
        raise error("(document)", "schema validation failed")
    message = entry.message
    for ns, prefix in prefixes.items():
        message = message.replace("{" + ns + "}", prefix + ":")
    path = entry.path or "(document)"
    if root is not None and "*" in path:  # default namespace: libxml2 writes /*/*[3]
        try:
            found = root.getroottree().xpath(path)
        except etree.XPathError:
            found = []
        if found and isinstance(found[0], etree._Element):
            path = element_path(found[0], prefixes)
    raise error(path, f"schema violation: {message}")


def element_path(el: etree._Element, prefixes: dict[str, str]) -> str:
    """Readable path of ``el``: ``/efi:StorageStatus/efi:actuatorStatuses/efi:actuatorStatus[2]``."""
    steps = []
    node: etree._Element | None = el
    while node is not None:
        q = etree.QName(node)
        prefix = prefixes.get(q.namespace or "", "")
        step = f"{prefix}:{q.localname}" if prefix else q.localname
        parent = node.getparent()
        if parent is not None:
            same = [c for c in parent if c.tag == node.tag]
            if len(same) > 1:
                step += f"[{same.index(node) + 1}]"
        steps.append(step)
        node = parent
    return "/" + "/".join(reversed(steps))


def to_etree(element: etree._Element) -> ET.Element:
    """lxml element → xml.etree element (what slixmpp stanzas carry)."""
    return ET.fromstring(etree.tostring(element))


def from_etree(element: ET.Element, nsmap: dict[str | None, str] | None = None) -> etree._Element:
    """xml.etree element (as slixmpp stanzas carry) → detached lxml copy, without serialising.

    Copying node by node is about three times faster than ``ET.tostring`` + parse; the element was
    already parsed by the XMPP stack, so there are no entities or DOCTYPE left to guard against.
    """
    root = etree.Element(element.tag, element.attrib, nsmap=nsmap)
    root.text = element.text
    _copy_children(element, root)
    return root


def _copy_children(source: ET.Element, target: etree._Element) -> None:
    sub = etree.SubElement
    for child in source:
        tag = child.tag
        if not isinstance(tag, str):  # comments and processing instructions
            continue
        copy = sub(target, tag, child.attrib)
        copy.text = child.text
        copy.tail = child.tail
        if len(child):
            _copy_children(child, copy)


def etree_size(element: ET.Element) -> int:
    """Rough size in bytes of an xml.etree tree (tags, attributes, text), for the size limit."""
    size = len(element.tag) * 2 + 5 + len(element.text or "") + len(element.tail or "")
    for k, v in element.attrib.items():
        size += len(k) + len(v) + 4
    for child in element:
        size += etree_size(child) if isinstance(child.tag, str) else 0
    return size


T = TypeVar("T")


class XmlCodec(Generic[T]):
    """Encoder and decoder of one payload vocabulary with one policy, validated both ways.

    ``max_bytes``: larger documents are refused before parsing. ``assume_tz``: timezone for dateTimes
    without an offset when decoding (``None``: refuse them). Subclasses set the class attributes and
    implement :meth:`decode_tree` (schema-valid root → object, after :meth:`validate`) and
    :meth:`encode_tree` (object → root, validated with :meth:`validate`).
    """

    __slots__ = ("assume_tz", "max_bytes")

    #: the error every failure is raised as
    error: ClassVar[type[PayloadValidationError]]
    #: our XSD in :data:`SCHEMA_DIR`
    schema_file: ClassVar[str]
    #: namespace → prefix, for readable element paths in error messages
    prefixes: ClassVar[dict[str, str]]
    #: nsmap of the lxml copy of an ``xml.etree`` element (so error paths use the prefixes)
    element_nsmap: ClassVar[dict[str | None, str]]

    def __init__(self, *, max_bytes: int = DEFAULT_MAX_BYTES, assume_tz: tzinfo | None = None) -> None:
        self.max_bytes = max_bytes
        self.assume_tz = assume_tz

    # -- decode -------------------------------------------------------------------------------
    def decode(self, xml: bytes | str) -> T:
        """Bytes of one document → payload object."""
        return self.decode_tree(parse_secure(xml, self.max_bytes, self.error))

    def decode_element(self, element: ET.Element | etree._Element) -> T:
        """A payload element already parsed (xml.etree from slixmpp, or lxml) → payload object."""
        if isinstance(element, etree._Element):
            return self.decode(etree.tostring(element))
        size = etree_size(element)
        if size > self.max_bytes:
            raise self.error(
                "(document)", f"element is about {size} bytes, more than the limit of {self.max_bytes} bytes"
            )
        return self.decode_tree(from_etree(element, self.element_nsmap))

    def decode_tree(self, root: etree._Element) -> T:
        raise NotImplementedError

    def validate(self, root: etree._Element) -> None:
        """Raise :attr:`error` naming the first element that breaks our schema."""
        schema = compiled_schema(self.schema_file)
        if not schema.validate(root):
            raise_schema_error(schema, self.prefixes, self.error, root)

    # -- encode -------------------------------------------------------------------------------
    def encode_tree(self, payload: T) -> etree._Element:
        raise NotImplementedError

    def encode(self, payload: T) -> bytes:
        """Payload → UTF-8 bytes of the document (no XML declaration, ready to embed in a stanza)."""
        return etree.tostring(self.encode_tree(payload))

    def encode_element(self, payload: T) -> ET.Element:
        """Payload → ``xml.etree`` element, e.g. to put in a slixmpp pub/sub item or IQ."""
        return ET.fromstring(self.encode(payload))
