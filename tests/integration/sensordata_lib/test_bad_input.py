"""Every bad input of the issue gets the XEP's error condition, and nothing is partially applied.

Raw XML from a real client, so what is checked is the wire, not our own client library.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from xml.etree import ElementTree as ET

import pytest
from slixmpp.exceptions import IqError

from tests.helpers import error_of
from xmpp_iot.sensordata import LocalPolicyGate, NodeRef
from xmpp_iot.trust import ControlDecision, ControlRequest, ReadDecision, ReadRequest, Tokens

pytestmark = pytest.mark.integration

SD = "urn:xmpp:iot:sensordata"
CTL = "urn:xmpp:iot:control"


async def raw_error(client, to: str, payload: str, itype: str = "get"):
    """Send a raw IQ and return (condition, error element) of the error reply."""
    iq = client.xmpp.make_iq(ito=to, itype=itype)
    iq.xml.append(ET.fromstring(payload))
    try:
        reply = await iq.send(timeout=10)
    except IqError as exc:
        # by local name: an in-process component (fix_error_ns) re-homes <error/> for the whole interpreter
        error_el = next(c for c in exc.iq.xml if c.tag.rpartition("}")[2] == "error")
        return exc.iq["error"]["condition"], error_el
    raise AssertionError(f"expected an error, got {reply}")


async def raw_result(client, to: str, payload: str, itype: str = "get"):
    iq = client.xmpp.make_iq(ito=to, itype=itype)
    iq.xml.append(ET.fromstring(payload))
    return await iq.send(timeout=10)


def param_error(error_el) -> tuple[str, str]:
    el = error_el.find(f"{{{CTL}}}paramError")
    assert el is not None, ET.tostring(error_el)
    return el.get("var"), el.text or ""


@pytest.fixture
def meter(pair):
    pair.source.add_field("Power", lambda: 5.0, unit="W", node=NodeRef("M1"))
    state = {"OutputPercent": 0, "Output": False, "Colour": None}
    pair.controls.add_parameter("Output", "boolean", write=lambda v: state.__setitem__("Output", v),
                                read=lambda: state["Output"])
    pair.controls.add_parameter("OutputPercent", "int", write=lambda v: state.__setitem__("OutputPercent", v),
                                read=lambda: state["OutputPercent"], minimum=0, maximum=100)
    pair.controls.add_parameter("Colour", "color", write=lambda v: state.__setitem__("Colour", v))
    return state


# -- XEP-0323 -------------------------------------------------------------------------------------
async def test_unknown_node(pair, meter):
    cond, _ = await raw_error(pair.app, pair.target, f"<req xmlns='{SD}' seqnr='1'><node nodeId='Nope'/></req>")
    assert cond == "item-not-found"


async def test_unknown_field(pair, meter):
    cond, _ = await raw_error(pair.app, pair.target, f"<req xmlns='{SD}' seqnr='2'><field name='Nope'/></req>")
    assert cond == "item-not-found"


@pytest.mark.parametrize("req", [
    "<req xmlns='{ns}'/>",                                   # no seqnr
    "<req xmlns='{ns}' seqnr='x'/>",                         # seqnr not an xs:int
    "<req xmlns='{ns}' seqnr='99999999999'/>",               # out of xs:int
    "<req xmlns='{ns}' seqnr='3' momentary='yes'/>",         # not an xs:boolean
    "<req xmlns='{ns}' seqnr='4' from='yesterday'/>",        # not an xs:dateTime
    "<req xmlns='{ns}' seqnr='5' from='2026-01-02T00:00:00Z' to='2026-01-01T00:00:00Z'/>",
    "<req xmlns='{ns}' seqnr='6'><node/></req>",             # node without nodeId
])
async def test_malformed_request_is_bad_request(pair, meter, req):
    cond, _ = await raw_error(pair.app, pair.target, req.format(ns=SD))
    assert cond == "bad-request"


async def test_oversized_request(pair, meter):
    nodes = "".join(f"<node nodeId='N{i}'/>" for i in range(500))
    cond, error = await raw_error(pair.app, pair.target, f"<req xmlns='{SD}' seqnr='7'>{nodes}</req>")
    assert cond == "bad-request"
    assert "too large" in error.findtext("{urn:ietf:params:xml:ns:xmpp-stanzas}text")


async def test_duplicate_seqnr_is_conflict(pair, meter):
    when = (datetime.now(UTC) + timedelta(seconds=30)).isoformat()
    req = f"<req xmlns='{SD}' seqnr='8' when='{when}'/>"
    accepted = await raw_result(pair.app, pair.target, req)
    assert accepted.xml.find(f"{{{SD}}}accepted").get("queued") == "true"
    cond, _ = await raw_error(pair.app, pair.target, req)
    assert cond == "conflict"
    cancelled = await raw_result(pair.app, pair.target, f"<cancel xmlns='{SD}' seqnr='8'/>")
    assert cancelled.xml.find(f"{{{SD}}}cancelled").get("seqnr") == "8"


async def test_when_too_far_ahead(pair, meter):
    when = (datetime.now(UTC) + timedelta(days=30)).isoformat()
    cond, _ = await raw_error(pair.app, pair.target, f"<req xmlns='{SD}' seqnr='9' when='{when}'/>")
    assert cond == "bad-request"


async def test_nobody_cancels_another_requesters_readout(pair, meter, make_client):
    when = (datetime.now(UTC) + timedelta(seconds=30)).isoformat()
    await raw_result(pair.app, pair.target, f"<req xmlns='{SD}' seqnr='10' when='{when}'/>")
    other = await make_client("other", registry=None)
    cond, _ = await raw_error(other, pair.target, f"<cancel xmlns='{SD}' seqnr='10'/>")
    assert cond == "item-not-found"  # readouts are keyed by requester and seqnr
    await raw_result(pair.app, pair.target, f"<cancel xmlns='{SD}' seqnr='10'/>")


async def test_cancel_of_unknown_readout(pair, meter):
    cond, _ = await raw_error(pair.app, pair.target, f"<cancel xmlns='{SD}' seqnr='12345'/>")
    assert cond == "item-not-found"


async def test_stranger_readout_is_forbidden(pair, meter, make_client):
    stranger = await make_client("stranger", registry=None)
    cond, _ = await raw_error(stranger, pair.target, f"<req xmlns='{SD}' seqnr='1' momentary='true'/>")
    assert cond == "forbidden"


# -- XEP-0325 -------------------------------------------------------------------------------------
@pytest.mark.parametrize(("element", "var"), [
    ("<int name='OutputPercent' value='200'/>", "OutputPercent"),           # out of range
    ("<int name='OutputPercent' value='ten'/>", "OutputPercent"),           # not an int
    ("<int name='OutputPercent' value='99999999999'/>", "OutputPercent"),   # out of xs:int
    ("<string name='OutputPercent' value='10'/>", "OutputPercent"),         # wrong element type
    ("<boolean name='Output' value='maybe'/>", "Output"),                   # not a boolean
    ("<color name='Colour' value='GG0000'/>", "Colour"),                    # bad colour
    ("<color name='Colour' value='FF00'/>", "Colour"),                      # too short
    ("<color name='Colour' value='FF00FF0'/>", "Colour"),                   # 7 digits
    ("<color name='Colour' value='#FF00FF'/>", "Colour"),                   # with hash
])
async def test_bad_parameter_is_bad_request_with_param_error(pair, meter, element, var):
    payload = f"<set xmlns='{CTL}'><boolean name='Output' value='true'/>{element}</set>"
    cond, error = await raw_error(pair.app, pair.target, payload, itype="set")
    assert cond == "bad-request"
    assert param_error(error)[0] == var
    assert meter == {"OutputPercent": 0, "Output": False, "Colour": None}  # nothing partially applied


async def test_unknown_parameter_names_it(pair, meter):
    payload = f"<set xmlns='{CTL}'><boolean name='Output' value='true'/><int name='Nope' value='1'/></set>"
    cond, error = await raw_error(pair.app, pair.target, payload, itype="set")
    assert cond == "item-not-found"
    assert param_error(error)[0] == "Nope"
    assert meter["Output"] is False


async def test_duplicate_parameter(pair, meter):
    payload = f"<set xmlns='{CTL}'><int name='OutputPercent' value='1'/><int name='OutputPercent' value='2'/></set>"
    cond, error = await raw_error(pair.app, pair.target, payload, itype="set")
    assert cond == "bad-request" and param_error(error)[0] == "OutputPercent"


async def test_unknown_control_node(pair, meter):
    payload = f"<set xmlns='{CTL}'><node nodeId='Nope'/><boolean name='Output' value='true'/></set>"
    cond, _ = await raw_error(pair.app, pair.target, payload, itype="set")
    assert cond == "item-not-found"


async def test_set_without_node_on_a_concentrator(pair):
    pair.controls.add_parameter("Output", "boolean", write=print, node=NodeRef("DO1"))
    payload = f"<set xmlns='{CTL}'><boolean name='Output' value='true'/></set>"
    cond, _ = await raw_error(pair.app, pair.target, payload, itype="set")
    assert cond == "bad-request"


async def test_oversized_set(pair, meter):
    params = "".join(f"<int name='P{i}' value='1'/>" for i in range(500))
    cond, _ = await raw_error(pair.app, pair.target, f"<set xmlns='{CTL}'>{params}</set>", itype="set")
    assert cond == "bad-request"


async def test_form_of_nodes_without_common_parameters(pair, meter):
    pair.controls.add_parameter("A", "int", write=print, node=NodeRef("N1"))
    pair.controls.add_parameter("B", "int", write=print, node=NodeRef("N2"))
    payload = f"<getForm xmlns='{CTL}'><node nodeId='N1'/><node nodeId='N2'/></getForm>"
    cond, _ = await raw_error(pair.app, pair.target, payload)
    assert cond == "feature-not-implemented"


async def test_bad_form_submission(pair, meter):
    payload = (f"<set xmlns='{CTL}'><x xmlns='jabber:x:data' type='submit'>"
               "<field var='Output'><value>true</value></field>"
               "<field var='OutputPercent'><value>200</value></field></x></set>")
    cond, error = await raw_error(pair.app, pair.target, payload, itype="set")
    assert cond == "bad-request" and param_error(error)[0] == "OutputPercent"
    assert meter["Output"] is False


# -- restriction by the local policy gate -----------------------------------------------------------
async def test_gate_restricts_readable_fields_and_settable_parameters(pair, meter):
    pair.source.add_field("Energy", lambda: 12.5, unit="kWh", node=NodeRef("M1"))
    restricted = LocalPolicyGate(pair.device.xmpp, allow=[pair.app.jid.bare],
                                 read_fields={pair.app.jid.bare: ["Energy"]},
                                 control_parameters={pair.app.jid.bare: ["Output"]})
    pair.device.xmpp.plugin["iot_sensordata"].gate = restricted
    pair.device.xmpp.plugin["iot_control"].gate = restricted
    readout = await pair.sd.read(pair.target)
    assert {f.name for f in readout.fields} == {"Energy"}
    result = await pair.ctl.set(pair.target, {"Output": True, "OutputPercent": 50})
    assert result.parameters == ("Output",)
    assert meter["Output"] is True and meter["OutputPercent"] == 0
    only_forbidden = await error_of(pair.ctl.set(pair.target, {"OutputPercent": 50}))
    assert only_forbidden.condition == "forbidden"
    assert list(await pair.ctl.get_form(pair.target)) == ["Output"]  # the form shows what may be set


class TokenGate:
    """A gate that decides on the request's tokens only, as a provisioning client would."""

    def __init__(self) -> None:
        self.seen: list[Tokens] = []

    async def is_friend(self, jid: str) -> bool:
        return False

    async def can_read(self, request: ReadRequest) -> ReadDecision:
        self.seen.append(request.tokens)
        return ReadDecision(allowed=request.tokens.service == "svc-1")

    async def can_control(self, request: ControlRequest) -> ControlDecision:
        self.seen.append(request.tokens)
        return ControlDecision(allowed=request.tokens.user == "usr-1")


async def test_tokens_reach_the_gate_for_readout_and_control(pair, meter):
    gate = TokenGate()
    pair.device.xmpp.plugin["iot_sensordata"].gate = gate
    pair.device.xmpp.plugin["iot_control"].gate = gate
    assert (await error_of(pair.sd.read(pair.target))).condition == "forbidden"
    readout = await pair.sd.read(pair.target, tokens=Tokens(service="svc-1", device="dev-1"))
    assert readout.value("Power") == 5.0
    assert (await error_of(pair.ctl.set(pair.target, {"Output": True}))).condition == "forbidden"
    await pair.ctl.set(pair.target, {"Output": True}, tokens=Tokens(user="usr-1"))
    form = await pair.ctl.get_form(pair.target, tokens=Tokens(user="usr-1"))
    assert "Output" in form and meter["Output"] is True
    assert Tokens(service="svc-1", device="dev-1") in gate.seen and Tokens(user="usr-1") in gate.seen
