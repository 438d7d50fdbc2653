"""encode / decode of EFI 2.0 documents, validated on both sides.

decode: size limit → secure parse → root must be an EFI 2.0 message in the EFI namespace → validation
against our ``schemas/efi-2.0.xsd`` → hand-written mapping (:mod:`.decoder`) → semantic rules
(:mod:`.semantics`). encode runs the same checks the other way round, so nothing we send can be refused
by a conforming peer. Every failure is an :class:`~xmpp_iot.efi.errors.EfiValidationError`.

For the XMPP binding, :meth:`EfiCodec.decode_element` takes the payload element of a stanza (an
``xml.etree`` or lxml element) and :meth:`EfiCodec.encode_element` returns an ``xml.etree`` element.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import tzinfo

from lxml import etree

from ..xmlcodec import DEFAULT_MAX_BYTES, XmlCodec
from . import semantics
from .decoder import EFI_NS, Decoder
from .encoder import Encoder
from .errors import EfiValidationError
from .messages import EfiMessage

__all__ = ["EFI_NS", "SCHEMA_FILE", "EfiCodec", "decode", "decode_element", "encode", "encode_element"]

SCHEMA_FILE = "efi-2.0.xsd"
_PREFIXES = {EFI_NS: "efi"}
_NS_PREFIX = "{" + EFI_NS + "}"

#: root elements of EFI 2.0 release candidates that FAN's examples still use
_RENAMED = {
    "StorageStateUpdate": "StorageStatus",
    "StorageTargetProfileUpdate": "StorageFillLevelTargetProfile",
    "StorageUsageForecastUpdate": "StorageUsageForecast",
}


class EfiCodec(XmlCodec[EfiMessage]):
    """Encoder and decoder with one policy (the shared pipeline is :class:`~xmpp_iot.xmlcodec.XmlCodec`).

    ``max_bytes``: larger documents are refused before parsing.
    ``assume_tz``: timezone for dateTimes without an offset when decoding. ``None`` (default) refuses
    them; FAN's own examples have none, so ``datetime.UTC`` is the setting to accept those.
    """

    __slots__ = ("_decoder", "_encoder", "_known")

    error = EfiValidationError
    schema_file = SCHEMA_FILE
    prefixes = _PREFIXES
    element_nsmap = {"efi": EFI_NS}

    def __init__(self, *, max_bytes: int = DEFAULT_MAX_BYTES, assume_tz: tzinfo | None = None) -> None:
        super().__init__(max_bytes=max_bytes, assume_tz=assume_tz)
        self._decoder = Decoder(assume_tz)
        self._encoder = Encoder()
        self._known = self._decoder.tags()

    def decode_tree(self, root: etree._Element) -> EfiMessage:
        """A root element from :func:`~xmpp_iot.xmlcodec.parse_secure` → message object."""
        tag = root.tag
        if not isinstance(tag, str) or not tag.startswith(_NS_PREFIX):
            ns = etree.QName(root).namespace if isinstance(tag, str) else None
            raise EfiValidationError(
                "/" + (etree.QName(root).localname if isinstance(tag, str) else "?"),
                f"root element is in namespace {ns!r}, expected the EFI 2.0 namespace {EFI_NS!r}",
            )
        if tag not in self._known:
            local = etree.QName(root).localname
            hint = _RENAMED.get(local)
            reason = f"{local} is not an EFI 2.0 message"
            if hint:
                reason += f" (draft name; the final EFI 2.0 schema calls it {hint})"
            raise EfiValidationError("/efi:" + local, reason)
        self.validate(root)
        try:
            msg = self._decoder.decode(root)
        except EfiValidationError:
            raise
        except ValueError as exc:  # a value libxml2 let through that Python cannot read
            raise EfiValidationError("/efi:" + etree.QName(root).localname, f"invalid value: {exc}") from None
        semantics.check(msg)
        return msg

    # -- encode -------------------------------------------------------------------------------

    def encode_tree(self, msg: EfiMessage) -> etree._Element:
        """Message → validated lxml root element."""
        try:
            root = self._encoder.encode(msg)
        except EfiValidationError:
            raise
        except (TypeError, ValueError, AttributeError) as exc:
            raise EfiValidationError(getattr(msg, "TAG", type(msg).__name__) or "(message)", f"cannot encode: {exc}") from None
        semantics.check(msg)
        self.validate(root)
        return root


_default = EfiCodec()


def decode(xml: bytes | str, *, codec: EfiCodec | None = None) -> EfiMessage:
    """Decode one EFI 2.0 document with the default (strict) policy or ``codec``."""
    return (codec or _default).decode(xml)


def decode_element(element: ET.Element | etree._Element, *, codec: EfiCodec | None = None) -> EfiMessage:
    """Decode a payload element already parsed (xml.etree or lxml)."""
    return (codec or _default).decode_element(element)


def encode(msg: EfiMessage, *, codec: EfiCodec | None = None) -> bytes:
    """Encode one message to bytes, validated against our schema."""
    return (codec or _default).encode(msg)


def encode_element(msg: EfiMessage, *, codec: EfiCodec | None = None) -> ET.Element:
    """Encode one message to an ``xml.etree`` element."""
    return (codec or _default).encode_element(msg)
