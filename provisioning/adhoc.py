"""Owner commands as XEP-0050 ad-hoc commands, so any XMPP client with ad-hoc support can manage rules.

Commands on the provisioning component (node: what it does):

* ``add-rule``: thing, subject (JID, domain, ``*`` or ``cert:<sha256>``), action
  (friend/read/control), allow, names (fields or parameters; empty = all), nodes (nodeIds;
  empty = all). Result: the new rule's id.
* ``remove-rule``: thing, rule id.
* ``list-rules``: thing. Result: a form with one item per rule.
* ``revoke-token``: a token, or a holder JID (all its tokens). For the holder itself or an admin.
* ``set-privileges``: service, user, ordered ``+id``/``-id`` lines (admins).
* ``area-node`` (with ``--pubsub``): area, publishers, readers: creates ``alarms/<area>`` (admins).

Executing a command without a form returns the form to fill in (two steps, as XEP-0050 shows);
executing it with a submitted form does it at once (one round trip, used by the owner library).
Only a thing's owner (or a configured admin) may touch its rules; others get ``forbidden``.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable

from slixmpp import Iq
from slixmpp.exceptions import IqError, XMPPError
from slixmpp.jid import JID
from slixmpp.plugins.xep_0004 import Form

from xmpp_iot.discovery.model import NodeRef
from xmpp_iot.errors import BadRequest, Forbidden, ProtocolError, ServiceUnavailable
from xmpp_iot.nodes import alarm_node

from .pubsub_manager import PubSubManager
from .rules import ACTIONS, Rule, normalize_subject
from .service import ProvisioningService

log = logging.getLogger(__name__)

FORM_TYPE = "urn:xmpp-iot:provisioning:rules"
Handler = Callable[[str, dict], Form]


def register_commands(xmpp, service: ProvisioningService, pubsub: PubSubManager | None = None) -> None:
    adhoc = xmpp.plugin["xep_0050"]
    commands: dict[str, tuple[str, Callable[[], Form], Handler]] = {
        "add-rule": ("Add a rule for a thing you own", _add_rule_form, lambda a, v: _add_rule(service, a, v)),
        "remove-rule": ("Remove a rule", _remove_rule_form, lambda a, v: _remove_rule(service, a, v)),
        "list-rules": (
            "List the rules of a thing you own",
            _thing_form,
            lambda a, v: _list_rules(service, a, v),
        ),
        "revoke-token": ("Revoke a token", _revoke_form, lambda a, v: _revoke(service, a, v)),
        "set-privileges": (
            "Set a user's privileges in a service (administrators)",
            _privileges_form,
            lambda a, v: _set_privileges(service, a, v),
        ),
    }
    if pubsub is not None:
        commands["area-node"] = (
            "Create an area node, e.g. alarms/<feeder> (administrators)",
            _area_form,
            lambda a, v: _area_node(service, pubsub, a, v),
        )
    for node, (name, blank, handler) in commands.items():
        adhoc.add_command(xmpp.boundjid, node, name, _command(blank, handler))


def _command(blank: Callable[[], Form], handler: Handler):
    async def start(iq: Iq, session: dict) -> dict:
        payload = session["payload"]
        forms = [p for p in (payload if isinstance(payload, list) else [payload]) if isinstance(p, Form)]
        actor = iq["from"].bare
        if forms and forms[0]["type"] == "submit":
            return await _finish(session, handler, actor, forms[0])
        session["payload"] = blank()

        async def submitted(form, s: dict) -> dict:
            return await _finish(s, handler, actor, form)

        session["next"] = submitted
        session["has_next"] = False
        session["allow_complete"] = True
        return session

    return start


async def _finish(session: dict, handler: Handler, actor: str, form) -> dict:
    if isinstance(form, list):
        form = form[0] if form else None
    if form is None:
        raise XMPPError("bad-request", "a submitted form is required", etype="modify")
    try:
        result = handler(actor, form.get_values())
        if inspect.isawaitable(result):
            result = await result
    except ProtocolError as exc:
        raise XMPPError(exc.condition, exc.text, etype=exc.etype) from None
    session["payload"] = result
    session["next"] = None
    session["has_next"] = False
    return session


# -- blank forms --------------------------------------------------------------------------------------
def _form(title: str) -> Form:
    form = Form()
    form["type"] = "form"
    form["title"] = title
    form.add_field("FORM_TYPE", ftype="hidden", value=FORM_TYPE)
    return form


def _thing_form() -> Form:
    form = _form("Rules of a thing")
    form.add_field("thing", ftype="jid-single", label="Thing (bare JID)", required=True)
    return form


def _add_rule_form() -> Form:
    form = _thing_form()
    form["title"] = "Add a rule"
    form.add_field(
        "subject", ftype="text-single", label="Who: JID, domain, * or cert:<sha256>", required=True
    )
    action = form.add_field("action", ftype="list-single", label="May", required=True, value="read")
    for a in ACTIONS:
        action.add_option(label=a, value=a)
    form.add_field("allow", ftype="boolean", label="Allow (unchecked: deny)", value=True)
    form.add_field("names", ftype="text-multi", label="Only these fields/parameters (empty: all)")
    form.add_field("nodes", ftype="text-multi", label="Only these nodeIds (empty: all)")
    return form


def _remove_rule_form() -> Form:
    form = _thing_form()
    form["title"] = "Remove a rule"
    form.add_field("rule", ftype="text-single", label="Rule id", required=True)
    return form


def _revoke_form() -> Form:
    form = _form("Revoke tokens")
    form.add_field("token", ftype="text-single", label="Token")
    form.add_field("holder", ftype="jid-single", label="...or every token of this JID")
    return form


def _privileges_form() -> Form:
    form = _form("Set privileges")
    form.add_field("service", ftype="jid-single", label="Service (holder of the serviceToken)", required=True)
    form.add_field("user", ftype="jid-single", label="User", required=True)
    form.add_field("privileges", ftype="text-multi",
                   label="One per line, first match wins: +Sensors.View or -Sensors.Delete")  # fmt: skip
    return form


def _area_form() -> Form:
    form = _form("Create an area node")
    form.add_field("area", ftype="text-single", label="Area (feeder) name, no '/'", required=True)
    form.add_field("publishers", ftype="jid-multi", label="Who publishes (e.g. the state-estimation app)")
    form.add_field("readers", ftype="jid-multi", label="Who may subscribe (empty: every local account)")
    return form


def _result(title: str, **values: str) -> Form:
    form = Form()
    form["type"] = "result"
    form["title"] = title
    for var, value in values.items():
        form.add_field(var, ftype="text-single", value=value)
    return form


# -- the commands ---------------------------------------------------------------------------------------
def _text(values: dict, var: str, required: bool = True) -> str:
    value = values.get(var) or ""
    if isinstance(value, list):
        value = "\n".join(value)
    value = str(value).strip()
    if required and not value:
        raise BadRequest(f"the field {var!r} is required")
    return value


def _lines(values: dict, var: str) -> tuple[str, ...] | None:
    value = values.get(var) or []
    if isinstance(value, str):
        value = value.splitlines()
    items = tuple(v.strip() for v in value if v and v.strip())
    return items or None


def _add_rule(service: ProvisioningService, actor: str, values: dict) -> Form:
    action = _text(values, "action")
    if action not in ACTIONS:
        raise BadRequest(f"action must be one of {', '.join(ACTIONS)}")
    allow = values.get("allow", True) in (True, "1", "true")
    nodes = _lines(values, "nodes")
    rule = Rule(
        thing=_text(values, "thing"),
        subject=normalize_subject(_text(values, "subject")),
        action=action,
        allow=allow,
        names=_lines(values, "names"),
        nodes=tuple(NodeRef(n) for n in nodes) if nodes else None,
    )
    stored = service.add_rule(actor, rule)
    return _result("Rule added", rule=str(stored.id))


def _remove_rule(service: ProvisioningService, actor: str, values: dict) -> Form:
    try:
        rule_id = int(_text(values, "rule"))
    except ValueError:
        raise BadRequest("rule must be a rule id (an integer)") from None
    removed = service.remove_rule(actor, _text(values, "thing"), rule_id)
    return _result("Rule removed", rule=str(removed.id))


def _list_rules(service: ProvisioningService, actor: str, values: dict) -> Form:
    thing = service.check_owner(actor, _text(values, "thing"))
    form = Form()
    form["type"] = "result"
    form["title"] = f"Rules of {thing}"
    for var in ("id", "subject", "action", "allow", "names", "nodes"):
        form.add_reported(var, ftype="text-single", label=var)
    for r in service.rules_of(thing):
        form.add_item({
            "id": str(r.id), "subject": r.subject, "action": r.action, "allow": "true" if r.allow else "false",
            "names": " ".join(r.names) if r.names is not None else "*",
            "nodes": " ".join(n.node_id for n in r.nodes) if r.nodes is not None else "*",
        })  # fmt: skip
    return form


def _revoke(service: ProvisioningService, actor: str, values: dict) -> Form:
    token, holder = _text(values, "token", False), _text(values, "holder", False)
    authority = service.tokens
    if token:
        jti = authority.jti_of(token)
        issued = authority.store.token(jti) if jti else None
        if issued is None:
            raise BadRequest("not a token of this provisioning server")
        if actor != issued.holder and actor not in service.admins:
            raise Forbidden("only the holder or an administrator revokes a token")
        authority.store.revoke_token(issued.jti)
        service.revoked([issued.jti])
        log.info("%s revoked token %s of %s", actor, issued.jti, issued.holder)
        return _result("Token revoked", count="1")
    if holder:
        holder = JID(holder).bare
        if actor != holder and actor not in service.admins:
            raise Forbidden("only the holder or an administrator revokes tokens")
        jtis = authority.store.revoke_holder(holder)
        service.revoked(jtis)
        count = len(jtis)
        log.info("%s revoked %d tokens of %s", actor, count, holder)
        return _result("Tokens revoked", count=str(count))
    raise BadRequest("give a token or a holder")


def _set_privileges(service: ProvisioningService, actor: str, values: dict) -> Form:
    entries = []
    for line in _lines(values, "privileges") or ():
        sign, privilege = line[0], line[1:].strip()
        if sign not in "+-":
            raise BadRequest(f"{line!r}: start each line with + (include) or - (exclude)")
        entries.append((sign == "+", privilege))
    service.set_privileges(actor, _text(values, "service"), _text(values, "user"), entries)
    return _result("Privileges set", count=str(len(entries)))


async def _area_node(service: ProvisioningService, pubsub: PubSubManager, actor: str, values: dict) -> Form:
    if actor not in service.admins:
        raise Forbidden("only an administrator creates area nodes")
    try:
        node = alarm_node(_text(values, "area"))
    except ValueError as exc:
        raise BadRequest(str(exc)) from None
    publishers = [JID(j).bare for j in _lines(values, "publishers") or ()]
    readers = [JID(j).bare for j in _lines(values, "readers") or ()]
    try:
        await pubsub.area_node(node, publishers, readers)
    except IqError as exc:
        raise ServiceUnavailable(f"the pub/sub service refused: {exc.iq['error']['condition']}") from None
    return _result("Area node ready", node=node)
