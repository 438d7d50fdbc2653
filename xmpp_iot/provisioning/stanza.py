"""XEP-0324 wire format: one ElementBase per request element, plus readers/writers.

Example (XEP-0324 §3.5)::

    <iq type='get' to='provisioning.example.org'>
      <canRead xmlns='urn:xmpp:iot:provisioning' jid='primary@example.org' momentary='true'
               serviceToken='T1 T2'>
        <node nodeId='Device02'/>
        <field name='Energy'/>
      </canRead>
    </iq>

The element classes exist so that StanzaPath matchers can route requests; the values are read
and written with the plain functions below, which turn bad input into :class:`BadRequest`.
"""

from __future__ import annotations

from collections.abc import Iterable
from xml.etree.ElementTree import Element, SubElement

from slixmpp import Iq, Message
from slixmpp.xmlstream import ElementBase, register_stanza_plugin

from ..discovery.model import NodeRef
from ..errors import BadRequest
from ..trust import Tokens

NS = "urn:xmpp:iot:provisioning"
# the XEP-0323 field-type flags (sn:fieldTypes) that canRead carries as attributes
HISTORICAL_TYPES = tuple(
    f"historical{p}" for p in ("Second", "Minute", "Hour", "Day", "Week", "Month", "Quarter", "Year", "Other")
)
FIELD_TYPES = ("momentary", "peak", "status", "computed", "identity", *HISTORICAL_TYPES)
_NODE_ATTRS = ("nodeId", "sourceId", "cacheType")


# RSA-OAEP labels bind each encrypted challenge to its purpose: a getToken challenge (for the
# holder who asked) can never be passed off as a tokenChallenge (for one token), or vice versa,
# so a device cannot relay an app's certificate challenge to the app and collect the token.
def get_token_label(holder: str) -> bytes:
    """OAEP label of a getToken challenge for `holder` (bare JID)."""
    return b"getToken:" + holder.encode()


def token_challenge_label(jti: str) -> bytes:
    """OAEP label of a tokenChallenge for the token with id `jti`."""
    return b"tokenChallenge:" + jti.encode()
_TRUE = {"true": True, "1": True, "false": False, "0": False}


def _element(tag: str, attrib: str) -> type[ElementBase]:
    return type(
        tag, (ElementBase,), {"name": tag, "namespace": NS, "plugin_attrib": attrib, "interfaces": set()}
    )


# requests a device, service or user sends to the provisioning server (IQ get)
IsFriend = _element("isFriend", "iotp_is_friend")
CanRead = _element("canRead", "iotp_can_read")
CanControl = _element("canControl", "iotp_can_control")
GetToken = _element("getToken", "iotp_get_token")
GetTokenChallengeResponse = _element("getTokenChallengeResponse", "iotp_challenge_response")
CanAccess = _element("canAccess", "iotp_can_access")
HasPrivilege = _element("hasPrivilege", "iotp_has_privilege")
DownloadPrivileges = _element("downloadPrivileges", "iotp_download_privileges")
# server -> device
ClearCache = _element("clearCache", "iotp_clear_cache")
TokenChallenge = _element("tokenChallenge", "iotp_token_challenge")
# messages
Friend = _element("friend", "iotp_friend")
Unfriend = _element("unfriend", "iotp_unfriend")
UserLoggedIn = _element("userLoggedIn", "iotp_user_logged_in")

IQ_ELEMENTS = (
    IsFriend, CanRead, CanControl, GetToken, GetTokenChallengeResponse, CanAccess, HasPrivilege,
    DownloadPrivileges, ClearCache, TokenChallenge,
)  # fmt: skip
MESSAGE_ELEMENTS = (Friend, Unfriend, UserLoggedIn)


def register_stanzas() -> None:
    for cls in IQ_ELEMENTS:
        register_stanza_plugin(Iq, cls)
    for cls in MESSAGE_ELEMENTS:
        register_stanza_plugin(Message, cls)


def q(tag: str) -> str:
    """Qualified name of a provisioning element."""
    return f"{{{NS}}}{tag}"


def parse_bool(text: str | None, default: bool, what: str) -> bool:
    if text is None or text == "":
        return default
    try:
        return _TRUE[text.strip()]
    except KeyError:
        raise BadRequest(f"{what}: {text!r} is not a boolean") from None


def required(el: Element, attr: str) -> str:
    value = (el.get(attr) or "").strip()
    if not value:
        raise BadRequest(f"{el.tag.rpartition('}')[2]}: the {attr} attribute is required")
    return value


def read_tokens(el: Element) -> Tokens:
    return Tokens(el.get("serviceToken", ""), el.get("deviceToken", ""), el.get("userToken", ""))


def write_tokens(el: Element, tokens: Tokens) -> None:
    for attr, value in (
        ("serviceToken", tokens.service),
        ("deviceToken", tokens.device),
        ("userToken", tokens.user),
    ):
        if value:
            el.set(attr, value)


def read_nodes(el: Element) -> tuple[NodeRef, ...]:
    nodes = []
    for n in el.findall(q("node")):
        node_id = n.get("nodeId", "")
        if not node_id:
            raise BadRequest("node: the nodeId attribute is required")
        nodes.append(NodeRef(node_id, n.get("sourceId", ""), n.get("cacheType", "")))
    return tuple(nodes)


def read_names(el: Element, child: str) -> tuple[str, ...]:
    names = []
    for n in el.findall(q(child)):
        name = n.get("name", "")
        if not name:
            raise BadRequest(f"{child}: the name attribute is required")
        names.append(name)
    return tuple(names)


def write_nodes(el: Element, nodes: Iterable[NodeRef]) -> None:
    for node in nodes:
        SubElement(el, q("node"), node.attributes())


def write_names(el: Element, child: str, names: Iterable[str]) -> None:
    for name in names:
        SubElement(el, q(child), name=name)


def read_field_types(el: Element) -> frozenset[str]:
    """The flags set on the element; ``all`` and ``historical`` (canRead's own) expand to theirs."""
    types = {t for t in FIELD_TYPES if parse_bool(el.get(t), False, t)}
    if parse_bool(el.get("all"), False, "all"):
        types |= set(FIELD_TYPES)
    if parse_bool(el.get("historical"), False, "historical"):
        types |= set(HISTORICAL_TYPES)
    return frozenset(types)


def write_field_types(el: Element, types: Iterable[str]) -> None:
    for t in sorted(types):
        el.set(t, "true")
