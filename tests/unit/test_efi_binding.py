"""The binding's rules without a server: item ids, error table, instruction checks, serialisation."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta

import pytest
from slixmpp import ClientXMPP, Iq
from slixmpp.xmlstream.tostring import tostring

import xmpp_iot.efi as efi
from xmpp_iot.efi import samples as s
from xmpp_iot.efi.binding import (
    BINDING_NS,
    DeviceView,
    EfiIqMatcher,
    EnergyApp,
    category_feature,
    item_id,
    stanza_error,
)
from xmpp_iot.efi.binding.protocol import (
    DuplicateInstruction,
    PayloadTooLarge,
    RevokeOfFinishedInstruction,
    WrongResource,
    check_against_flexibility,
    check_revoke,
    instruction_class,
    replay_order,
    revoke_status,
)
from xmpp_iot.errors import BadRequest, Conflict, ItemNotFound, NotAcceptable
from xmpp_iot.pubsub import stream_safe

NOW = datetime(2030, 5, 1, 12, tzinfo=UTC)

PUBLISHED = [
    s.heat_pump_registration("hp-1", NOW), s.heat_pump_system("hp-1", NOW), s.heat_pump_status("hp-1", NOW, "st", 40.0),
    s.heat_pump_measurement("hp-1", NOW, 100.0, 40.0), s.washer_registration("wm-1", NOW), s.washer_update("wm-1", NOW),
    s.pv_registration("pv-1", NOW), s.pv_forecast("pv-1", NOW), s.pv_options("pv-1", NOW),
    efi.InstructionStatusUpdate(efi_resource_id="pv-1", timestamp=NOW, instruction_id="i-0",
                                status=efi.InstructionStatus.ACCEPTED),
    efi.FlexibilityRevoke(efi_resource_id="pv-1", timestamp=NOW),
]
SENT = [
    s.heat_pump_instruction("hp-1", NOW, "i-1", "st"), s.washer_start("wm-1", NOW, "i-2", "wash-1", NOW),
    s.pv_curtailment("pv-1", NOW, "i-3", "pv-curt-1"),
    efi.InstructionRevoke(efi_resource_id="pv-1", timestamp=NOW, instruction_id="i-3"),
]


@pytest.mark.parametrize("msg", PUBLISHED, ids=lambda m: m.TAG)
def test_item_id_is_the_root_element_name(msg):
    assert item_id(msg) == msg.TAG


@pytest.mark.parametrize("msg", SENT, ids=lambda m: m.TAG)
def test_instructions_are_not_published(msg):
    with pytest.raises(ValueError):
        item_id(msg)


@pytest.mark.parametrize("msg", PUBLISHED + SENT, ids=lambda m: m.TAG)
def test_slixmpp_sends_efi_documents_intact(msg):
    """slixmpp drops namespaced attributes (efi:efiVersion) unless the element is made stream-safe."""
    xmpp = ClientXMPP("driver@example.org/efi", "pw")
    iq = xmpp.make_iq_set(ito="app@example.org/x")
    iq.xml.append(stream_safe(efi.encode_element(msg)))
    wire = tostring(iq.xml, stream=xmpp, top_level=True)
    received = ET.fromstring(wire)[0]
    assert efi.decode_element(received) == msg
    plain = xmpp.make_iq_set(ito="app@example.org/x")
    plain.xml.append(efi.encode_element(msg))
    with pytest.raises(efi.EfiValidationError, match="efiVersion"):  # what stream_safe is for
        efi.decode_element(ET.fromstring(tostring(plain.xml, stream=xmpp, top_level=True))[0])


def test_elements_without_namespaced_attributes_are_left_alone():
    el = ET.fromstring("<a xmlns='urn:x' b='1'><c/></a>")
    assert stream_safe(el) is el


@pytest.mark.parametrize(("exc", "cls", "condition"), [
    (PayloadTooLarge("(document)", "big"), NotAcceptable, "not-acceptable"),
    (WrongResource("x", "y"), ItemNotFound, "item-not-found"),
    (efi.UnknownFlexibilityUpdate("x", "y"), ItemNotFound, "item-not-found"),
    (efi.UnknownInstruction("x", "y"), ItemNotFound, "item-not-found"),
    (DuplicateInstruction("x", "y"), Conflict, "conflict"),
    (RevokeOfFinishedInstruction("x", "y"), NotAcceptable, "not-acceptable"),
    (efi.IllegalStatusTransition("x", "y"), NotAcceptable, "not-acceptable"),
    (efi.EfiValidationError("/efi:X/efi:y", "schema violation: z"), BadRequest, "bad-request"),
])
def test_payload_errors_map_to_stanza_errors(exc, cls, condition):
    err = stanza_error(exc)
    assert type(err) is cls and err.condition == condition
    assert err.text == str(exc)
    assert (err.extra is not None) == isinstance(exc, PayloadTooLarge)
    if err.extra is not None:
        assert err.extra.tag == f"{{{BINDING_NS}}}payload-too-big"


def test_each_category_takes_its_own_instruction():
    assert instruction_class(s.heat_pump_registration("hp-1", NOW)) is efi.StorageInstruction
    assert instruction_class(s.washer_registration("wm-1", NOW)) is efi.ShiftableInstruction
    assert instruction_class(s.pv_registration("pv-1", NOW)) is efi.InflexibleInstruction
    assert category_feature(s.pv_registration("pv-1", NOW)) == BINDING_NS + "#inflexible"


def test_storage_instruction_must_name_a_described_mode():
    system = s.heat_pump_system("hp-1", NOW, "sys-1")
    check_against_flexibility(s.heat_pump_instruction("hp-1", NOW, "i", "sys-1"), system, system)
    with pytest.raises(efi.EfiValidationError, match="no running mode 5") as err:
        check_against_flexibility(s.heat_pump_instruction("hp-1", NOW, "i", "sys-1", mode=5), system, system)
    assert err.value.element.endswith("efi:runningModeId")


def test_shiftable_instruction_must_fit_the_program():
    update = s.washer_update("wm-1", NOW, "w", deadline=timedelta(hours=2))
    check_against_flexibility(s.washer_start("wm-1", NOW, "i", "w", NOW + timedelta(minutes=10)), update, None)
    with pytest.raises(efi.EfiValidationError, match="outside"):
        check_against_flexibility(s.washer_start("wm-1", NOW, "i", "w", NOW + timedelta(hours=3)), update, None)
    bad = s.washer_start("wm-1", NOW, "i", "w", NOW)
    bad.sequential_profile_instructions[1].alternative_nr = 4
    with pytest.raises(efi.EfiValidationError, match="alternative 4"):
        check_against_flexibility(bad, update, None)


def test_revoke_rules():
    revoke = efi.InstructionRevoke(efi_resource_id="pv-1", timestamp=NOW, instruction_id="i")
    check_revoke(revoke, efi.InstructionStatus.STARTED)
    with pytest.raises(RevokeOfFinishedInstruction):
        check_revoke(revoke, efi.InstructionStatus.SUCCEEDED)
    assert revoke_status(None) is efi.InstructionStatus.REJECTED
    assert revoke_status(efi.InstructionStatus.ACCEPTED) is efi.InstructionStatus.ABORTED


def test_late_subscriber_replays_registration_revoke_then_updates():
    reg = s.pv_registration("pv-1", NOW)
    revoke = efi.FlexibilityRevoke(efi_resource_id="pv-1", timestamp=NOW)
    old = s.pv_forecast("pv-1", NOW - timedelta(minutes=1), "old")
    new = s.pv_forecast("pv-1", NOW, "new")
    assert sorted([new, revoke, old, reg], key=replay_order) == [old, reg, revoke, new]


def test_the_matcher_takes_efi_iqs_only():
    xmpp = ClientXMPP("driver@example.org/efi", "pw")
    matcher = EfiIqMatcher()

    def iq(xml: str, itype: str = "set") -> Iq:
        stanza = xmpp.make_iq(ito="driver@example.org/efi", itype=itype)
        stanza.xml.append(ET.fromstring(xml))
        return stanza

    assert matcher.match(iq(f"<StorageInstruction xmlns='{efi.EFI_NS}'/>"))
    assert matcher.match(iq("<StorageInstruction xmlns='urn:wrong'/>"))  # answered with a precise error
    assert not matcher.match(iq(f"<StorageInstruction xmlns='{efi.EFI_NS}'/>", itype="get"))
    assert not matcher.match(iq("<query xmlns='jabber:iq:version'/>"))


@pytest.mark.parametrize("order", [(0, 1, 2, 3), (3, 0, 1, 2), (0, 2, 3, 1), (3, 2, 1, 0)])
def test_app_state_does_not_depend_on_arrival_order(order):
    """Catch-up items and live notifications interleave (ejabberd sends the last item on subscribe)."""
    app = EnergyApp(ClientXMPP("app@example.org/x", "pw"))
    device = "pv@example.org"
    app.views[device] = DeviceView(device)
    messages = [
        s.pv_registration("pv-1", NOW),
        s.pv_options("pv-1", NOW, "old"),
        efi.FlexibilityRevoke(efi_resource_id="pv-1", timestamp=NOW + timedelta(seconds=1)),
        s.pv_options("pv-1", NOW + timedelta(seconds=2), "new"),
    ]
    for i in order:
        app._apply(device, item_id(messages[i]) + ("-old" if i == 1 else ""), messages[i])
    view = app.view(device)
    assert view.updates["InflexibleCurtailmentOptions"].flexibility_update_id == "new"
    assert app.ledger.knows_update("pv-1", "new")
    assert not app.ledger.knows_update("pv-1", "old")
