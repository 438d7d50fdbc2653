"""XEP-0323 values, fields, requests and wire format without a server (schema-checked)."""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, time, timedelta, timezone
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest
import xmlschema
from hypothesis import given
from hypothesis import strategies as st
from slixmpp import Iq, Message

from xmpp_iot.measurement import (
    MeterReadout,
    Phase,
    Phasor,
    PmuFrame,
    Quality,
    QualityFlag,
    Quantity,
    Reading,
)
from xmpp_iot.sensordata import (
    FIELD_TYPES,
    HISTORICAL_TYPES,
    EnumValue,
    Field,
    NodeRef,
    ReadoutRequest,
    ValueType,
    fields_from_payload,
    fields_from_reading,
    readings_from_fields,
)
from xmpp_iot.sensordata.stanza import read_fields, register_stanzas, write_fields
from xmpp_iot.sensordata.values import decimals_of, format_value, parse_value

SCHEMA_FILE = Path("/work/shared/reference/xeps/schemas/urn_xmpp_iot_sensordata.xsd")
NS = "urn:xmpp:iot:sensordata"
T0 = datetime(2026, 3, 7, 16, 24, 30, tzinfo=UTC)

register_stanzas()


@pytest.fixture(scope="module")
def schema() -> xmlschema.XMLSchema:
    if not SCHEMA_FILE.exists():
        pytest.skip("XEP schemas not available")
    # the XEP's stringIds pattern uses ^…$, which XSD 1.0 takes literally: drop it for validation
    text = SCHEMA_FILE.read_text().replace("<xs:pattern value=\"^\\d+([|]\\w+([.]\\w+)*([|][^,]*)?)?"
                                           "(,\\d+([|]\\w+([.]\\w+)*([|][^,]*)?)?)*$\"/>", "")
    return xmlschema.XMLSchema(text)


# -- values ----------------------------------------------------------------------------------------
@pytest.mark.parametrize(("kind", "text", "value"), [
    ("boolean", "true", True), ("boolean", "0", False),
    ("int", "-2147483648", -(2**31)), ("long", "9223372036854775807", 2**63 - 1),
    ("numeric", "23.40", 23.4), ("numeric", "-1.5E3", -1500.0),
    ("date", "2013-05-01", date(2013, 5, 1)),
    ("dateTime", "2013-04-02T08:00:00", datetime(2013, 4, 2, 8)),
    ("dateTime", "2013-04-02T08:00:00.123456789Z", datetime(2013, 4, 2, 8, 0, 0, 123456, tzinfo=UTC)),
    ("dateTime", "2013-04-02T08:00:00+02:00", datetime(2013, 4, 2, 8, tzinfo=timezone(timedelta(hours=2)))),
    ("time", "08:00:00", time(8)),
    ("duration", "PT3M30S", timedelta(minutes=3, seconds=30)),
    ("duration", "-P1DT0.5S", -timedelta(days=1, seconds=0.5)),
])
def test_parse_value(kind, text, value):
    assert parse_value(kind, text) == value


@pytest.mark.parametrize(("kind", "text"), [
    ("boolean", "yes"), ("int", "2147483648"), ("int", "1.0"), ("long", "9223372036854775808"),
    ("numeric", "1,5"), ("numeric", ""), ("date", "2013-02-30"), ("date", "01.05.2013"),
    ("dateTime", "2013-04-02 08:00:00"), ("dateTime", "2013-04-02T25:00:00"), ("time", "8:00"),
    ("duration", "P"), ("duration", "PT"), ("duration", "3 minutes"), ("color", "GG0000"), ("color", "FFF"),
])
def test_parse_value_refuses(kind, text):
    with pytest.raises(ValueError):
        parse_value(kind, text)


def test_duration_with_months_keeps_the_calendar():
    value = parse_value("duration", "P1Y2M")
    assert value.months == 14 and format_value("duration", value) == "P1Y2M"


def test_numeric_precision_is_kept():
    assert decimals_of("10") == 0 and decimals_of("10.00") == 2 and decimals_of("1e3") is None
    assert format_value("numeric", 10.0, 2) == "10.00"
    assert format_value("numeric", 10.0) == "10"
    assert format_value("numeric", math.inf) == "INF"


@given(st.integers(min_value=-(2**63), max_value=2**63 - 1))
def test_long_round_trip(n):
    assert parse_value("long", format_value("long", n)) == n


@given(st.floats(allow_nan=False))
def test_double_round_trip(x):
    assert parse_value("numeric", format_value("numeric", x)) == x


@given(st.datetimes(timezones=st.just(UTC)))
def test_datetime_round_trip(ts):
    assert parse_value("dateTime", format_value("dateTime", ts)) == ts


@given(st.timedeltas(min_value=timedelta(days=-10**6), max_value=timedelta(days=10**6)))
def test_duration_round_trip(d):
    assert parse_value("duration", format_value("duration", d)) == d


# -- fields ----------------------------------------------------------------------------------------
def test_field_of_infers_types():
    assert Field.of("a", True, T0).type is ValueType.BOOLEAN
    assert Field.of("a", 5, T0).type is ValueType.INT
    assert Field.of("a", 2**40, T0).type is ValueType.LONG
    assert Field.of("a", 1.5, T0).type is ValueType.NUMERIC
    assert Field.of("a", T0, T0).type is ValueType.DATETIME
    assert Field.of("a", T0.date(), T0).type is ValueType.DATE
    assert Field.of("a", time(1), T0).type is ValueType.TIME
    assert Field.of("a", timedelta(1), T0).type is ValueType.DURATION
    assert Field.of("a", EnumValue("x", "T"), T0).type is ValueType.ENUM


@pytest.mark.parametrize("bad", [
    {"type": "int", "value": "5"}, {"type": "int", "value": 2**40}, {"type": "boolean", "value": 1},
    {"type": "enum", "value": "x"}, {"type": "numeric", "value": 1.0, "types": frozenset({"daily"})},
    {"type": "numeric", "value": 1.0, "qos": frozenset({"fine"})}, {"type": "date", "value": T0},
])
def test_field_refuses_inconsistent_values(bad):
    with pytest.raises(ValueError):
        Field(name="x", timestamp=T0, **bad)


def every_type_fields() -> list[Field]:
    node = NodeRef("Device01", "MeteringTopology", "Meter")
    return [
        Field.of("Temperature", 23.4, T0, node=node, unit="°C", nr_decimals=2, qos=frozenset({"automaticReadout"})),
        Field.of("Label", "Kitchen & <hall>", T0, node=node, types=frozenset({"identity"})),
        Field.of("Relay", True, T0, node=node, writable=True, types=frozenset({"status", "momentary"})),
        Field.of("Installed", date(2020, 1, 2), T0, node=node),
        Field.of("Serviced", datetime(2025, 1, 1, 12, tzinfo=UTC), T0, node=node),
        Field.of("Runtime", timedelta(hours=5), T0, node=node, qos=frozenset({"warning", "manualReadout"})),
        Field.of("Mode", EnumValue("eco", "HeatPumpMode"), T0, node=node),
        Field.of("Pulses", -12, T0, node=node),
        Field.of("Counter", 2**50, T0, node=node),
        Field.of("WakeUp", time(6, 30), T0 - timedelta(hours=1), node=node, types=frozenset({"historicalHour"})),
    ]


def test_fields_round_trip_and_validate_against_the_xep_schema(schema):
    msg = Message()
    msg["sd_fields"]["seqnr"] = 4
    msg["sd_fields"]["done"] = True
    fields = every_type_fields()
    write_fields(msg["sd_fields"].xml, fields)
    schema.validate(ET.fromstring(ET.tostring(msg["sd_fields"].xml)))
    assert read_fields(ET.fromstring(ET.tostring(msg["sd_fields"].xml))) == fields


def test_reading_the_xeps_own_example():
    el = ET.fromstring(f"""<fields xmlns='{NS}' seqnr='4'><node nodeId='Device01'>
      <timestamp value='2013-03-07T19:00:00'>
        <numeric name='Temperature' momentary='true' automaticReadout='true' value='23.4' unit='°C'/>
        <numeric name='Runtime' status='true' automaticReadout='true' value='12345' unit='h'/>
        <string name='Device ID' identification='true' automaticReadout='true' value='Device01'/>
      </timestamp></node></fields>""")
    fields = {f.name: f for f in read_fields(el)}
    assert fields["Temperature"].value == 23.4 and fields["Temperature"].nr_decimals == 1
    assert fields["Runtime"].nr_decimals == 0
    assert fields["Device ID"].types == {"identity"}  # the example's spelling is accepted
    assert fields["Temperature"].timestamp == datetime(2013, 3, 7, 19)


def test_a_field_without_qos_flag_is_automatic_readout():
    el = ET.fromstring(f"<fields xmlns='{NS}' seqnr='1'><node nodeId='N'><timestamp value='2013-03-07T19:00:00'>"
                       "<int name='n' value='3'/></timestamp></node></fields>")
    assert read_fields(el)[0].qos == {"automaticReadout"}


def test_malformed_field_value_is_named():
    el = ET.fromstring(f"<fields xmlns='{NS}' seqnr='1'><node nodeId='N'><timestamp value='2013-03-07T19:00:00'>"
                       "<int name='n' value='three'/></timestamp></node></fields>")
    with pytest.raises(ValueError, match="'n'"):
        read_fields(el)


# -- requests --------------------------------------------------------------------------------------
def req(xml: str) -> ReadoutRequest:
    iq = Iq(xml=ET.fromstring(f"<iq xmlns='jabber:client' type='get'>{xml}</iq>"))
    return iq["sd_req"].to_request("app@example.org/x")


def test_request_flags_expand():
    assert req(f"<req xmlns='{NS}' seqnr='1' momentary='true'/>").types == {"momentary"}
    assert req(f"<req xmlns='{NS}' seqnr='1' historical='true'/>").types == set(HISTORICAL_TYPES)
    assert req(f"<req xmlns='{NS}' seqnr='1' all='true'/>").types == set(FIELD_TYPES)
    assert req(f"<req xmlns='{NS}' seqnr='1'/>").types == set(FIELD_TYPES)  # no hint = everything


def test_request_round_trip_validates(schema):
    request = ReadoutRequest(requester="a@b/c", seqnr=9, nodes=(NodeRef("N1"), NodeRef("N2", "S")),
                             field_names=("voltage.L1",), types=frozenset({"momentary", *HISTORICAL_TYPES}),
                             from_=T0, to=T0 + timedelta(days=1), when=T0)
    iq = Iq()
    iq["sd_req"].from_request(request)
    schema.validate(ET.fromstring(ET.tostring(iq["sd_req"].xml)))
    assert iq["sd_req"].to_request("a@b/c") == request


def test_wants_filters_names_types_nodes_and_window():
    request = ReadoutRequest(requester="x", seqnr=1, field_names=("a",), types=frozenset({"historicalHour"}),
                             from_=T0, to=T0 + timedelta(hours=2), nodes=(NodeRef("N"),))
    hist = Field.of("a", 1.0, T0 + timedelta(hours=1), node=NodeRef("N"), types=frozenset({"historicalHour"}))
    assert request.wants(hist)
    assert not request.wants(Field.of("b", 1.0, T0, node=NodeRef("N"), types=frozenset({"historicalHour"})))
    assert not request.wants(Field.of("a", 1.0, T0 - timedelta(hours=1), node=NodeRef("N"),
                                      types=frozenset({"historicalHour"})))
    assert not request.wants(Field.of("a", 1.0, T0, node=NodeRef("M"), types=frozenset({"historicalHour"})))
    assert not request.wants(Field.of("a", 1.0, T0, node=NodeRef("N")))  # momentary not asked


# -- one representation with the measurement model ---------------------------------------------------
def test_meter_readout_to_fields_and_back():
    readings = (
        Reading.of(Quantity.VOLTAGE, 230.1, T0, Phase.L1),
        Reading.of(Quantity.ACTIVE_POWER, -1500.0, T0, Phase.TOTAL, quality=Quality.QUESTIONABLE),
        Reading.of(Quantity.ENERGY_IMPORT, 12345.0, T0, flags=frozenset({QualityFlag.SIGNED})),
    )
    meter = MeterReadout(device="meter@example.org", timestamp=T0, readings=readings)
    fields = fields_from_payload(meter, NodeRef("M1"), nr_decimals=1)
    assert [f.name for f in fields] == ["voltage.L1", "active_power.total", "energy_import"]
    assert fields[0].unit == "V" and fields[0].lexical == "230.1" and fields[0].node == NodeRef("M1")
    assert fields[1].qos == {"warning"} and fields[2].qos == {"signed"}
    assert readings_from_fields(fields) == list(readings)


def test_pmu_phasor_is_two_fields_and_one_reading():
    reading = Reading.of(Quantity.VOLTAGE, Phasor(230.0, -120.0), T0, Phase.L2)
    fields = fields_from_reading(reading)
    assert [(f.name, f.value, f.unit) for f in fields] == [("voltage.L2", 230.0, "V"),
                                                           ("voltage.L2.angle", -120.0, "deg")]
    frame = PmuFrame(device="pmu@example.org", timestamp=T0, readings=(reading,))
    assert readings_from_fields(fields_from_payload(frame)) == [reading]


# -- garbage never crashes the parsers ---------------------------------------------------------------
_attr_text = st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc")), max_size=30)


@given(st.dictionaries(st.sampled_from(["seqnr", "momentary", "all", "historical", "from", "to", "when",
                                        "historicalDay", "serviceToken"]), _attr_text, max_size=6))
def test_any_req_attributes_give_a_request_or_value_error(attrs):
    iq = Iq()
    iq["sd_req"].xml.attrib.update(attrs)
    try:
        request = iq["sd_req"].to_request("a@b/c")
    except ValueError:
        return
    assert isinstance(request.seqnr, int) and request.types


@given(st.sampled_from(["numeric", "int", "long", "boolean", "date", "dateTime", "time", "duration", "enum",
                        "string"]), _attr_text, _attr_text)
def test_any_field_value_gives_fields_or_value_error(kind, value, stamp):
    el = ET.Element(f"{{{NS}}}fields", {"seqnr": "1"})
    ts = ET.SubElement(ET.SubElement(el, f"{{{NS}}}node", {"nodeId": "N"}), f"{{{NS}}}timestamp", {"value": stamp})
    ET.SubElement(ts, f"{{{NS}}}{kind}", {"name": "x", "value": value, "unit": "W", "dataType": "T"})
    try:
        fields = read_fields(el)
    except ValueError:
        return
    assert fields[0].name == "x"
