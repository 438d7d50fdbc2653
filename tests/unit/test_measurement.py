"""Measurement payloads (urn:xmpp-iot:measurement:1): model, codec, rules and the XEP-0323 mapping."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from xmpp_iot.efi.errors import PayloadError
from xmpp_iot.measurement import (
    METER_QUANTITIES,
    PHASOR_QUANTITIES,
    PMU_QUANTITIES,
    QUANTITY_UNITS,
    FieldType,
    MeasurementCodec,
    MeasurementValidationError,
    MeterReadout,
    Phase,
    Phasor,
    PmuFrame,
    Quality,
    QualityFlag,
    Quantity,
    Reading,
    Unit,
    decode,
    decode_element,
    encode,
    encode_element,
    to_xep0323_fields,
)

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
NS = "urn:xmpp-iot:measurement:1"


def pmu_frame() -> PmuFrame:
    readings = []
    for phase, angle in ((Phase.L1, 0.0), (Phase.L2, -120.0), (Phase.L3, 120.0)):
        readings.append(Reading.of(Quantity.VOLTAGE, Phasor(230.2, angle), T0, phase))
        readings.append(Reading.of(Quantity.CURRENT, Phasor(12.5, angle - 25.8), T0, phase))
    readings.append(Reading.of(Quantity.FREQUENCY, 49.987, T0))
    readings.append(Reading.of(Quantity.ROCOF, -0.012, T0))
    return PmuFrame(device="pmu-substation-12", timestamp=T0, readings=tuple(readings))


def meter_readout() -> MeterReadout:
    readings = [
        Reading.of(
            Quantity.ACTIVE_POWER, 1450.0, T0, Phase.L1, flags=frozenset({QualityFlag.AUTOMATIC_READOUT})
        ),
        Reading.of(Quantity.REACTIVE_POWER, -120.5, T0, Phase.L1),
        Reading.of(Quantity.VOLTAGE, 229.8, T0, Phase.L1),
        Reading.of(Quantity.CURRENT, 6.31, T0, Phase.L1, quality=Quality.QUESTIONABLE),
        Reading.of(
            Quantity.ENERGY_IMPORT,
            12_345_678.0,
            T0 - timedelta(minutes=15),
            Phase.TOTAL,
            flags=frozenset({QualityFlag.SIGNED, QualityFlag.INVOICED}),
        ),
        Reading.of(Quantity.ENERGY_EXPORT, 2_345.0, T0, Phase.TOTAL, field_type=FieldType.HISTORICAL),
    ]
    return MeterReadout(device="meter-0042", timestamp=T0, readings=tuple(readings))


@pytest.mark.parametrize("payload", [pmu_frame(), meter_readout()], ids=["pmu", "meter"])
def test_round_trip(payload) -> None:
    data = encode(payload)
    assert decode(data) == payload
    assert decode_element(encode_element(payload)) == payload


def test_wire_form_is_explicit() -> None:
    data = encode(meter_readout())
    root = ET.fromstring(data)
    assert root.tag == f"{{{NS}}}meterReadout"
    first = root[0]
    assert first.attrib == {
        "quantity": "active_power",
        "phase": "L1",
        "unit": "W",
        "flags": "automaticReadout",
        "value": "1450.0",
    }
    assert root[3].get("quality") == "questionable"
    assert root[4].get("timestamp") == "2024-05-01T11:45:00Z"  # only where it differs from the payload's
    assert root[5].get("type") == "historical"
    assert ET.fromstring(encode(pmu_frame()))[1].attrib == {
        "quantity": "current",
        "phase": "L1",
        "unit": "A",
        "magnitude": "12.5",
        "angle": "-25.8",
    }


def test_every_quantity_has_one_si_unit() -> None:
    assert set(QUANTITY_UNITS) == set(Quantity)
    assert QUANTITY_UNITS[Quantity.ROCOF] is Unit.HERTZ_PER_SECOND
    assert QUANTITY_UNITS[Quantity.ENERGY_IMPORT] is Unit.WATT_HOUR
    assert QUANTITY_UNITS[Quantity.REACTIVE_POWER] is Unit.VAR


def test_xep0323_mapping() -> None:
    readout = meter_readout()
    (p,) = to_xep0323_fields(readout.readings[0])
    assert (p.name, p.value, p.unit, p.field_type, p.qos) == (
        "active_power.L1",
        1450.0,
        "W",
        "momentary",
        frozenset({"automaticReadout"}),
    )
    (i,) = to_xep0323_fields(readout.readings[3])
    assert "warning" in i.qos
    magnitude, angle = to_xep0323_fields(pmu_frame().readings[2])
    assert (magnitude.name, magnitude.value, magnitude.unit) == ("voltage.L2", 230.2, "V")
    assert (angle.name, angle.value, angle.unit) == ("voltage.L2.angle", -120.0, "deg")
    (f,) = to_xep0323_fields(pmu_frame().readings[-2])
    assert f.name == "frequency" and f.unit == "Hz"
    assert {flag.value for flag in QualityFlag} == {
        "missing",
        "inProgress",
        "automaticEstimate",
        "manualEstimate",
        "manualReadout",
        "automaticReadout",
        "timeOffset",
        "warning",
        "error",
        "signed",
        "invoiced",
        "endOfSeries",
        "powerFailure",
        "invoiceConfirmed",
    }


def test_lookup_by_quantity_and_phase() -> None:
    assert meter_readout().reading(Quantity.VOLTAGE, Phase.L1).value == 229.8
    assert meter_readout().reading(Quantity.VOLTAGE, Phase.L2) is None


# -- bad input ------------------------------------------------------------------------------------


def refused(data: bytes, codec: MeasurementCodec | None = None) -> MeasurementValidationError:
    with pytest.raises(MeasurementValidationError) as err:
        (codec or MeasurementCodec()).decode(data)
    assert isinstance(err.value, PayloadError)
    return err.value


DOC = (
    f'<meterReadout xmlns="{NS}" device="m-1" timestamp="2024-05-01T12:00:00Z">'
    '<reading quantity="voltage" phase="L1" unit="V" value="230.0"/></meterReadout>'
)


def test_baseline_document() -> None:
    assert decode(DOC.encode()).readings[0].value == 230.0


def test_not_well_formed() -> None:
    assert "not well-formed" in refused(DOC[:-3].encode()).reason


def test_wrong_namespace() -> None:
    err = refused(DOC.replace(NS, "urn:xmpp-iot:measurement:2").encode())
    assert err.element == "/meterReadout" and "urn:xmpp-iot:measurement:1" in err.reason


@pytest.mark.parametrize(
    ("change", "element", "words"),
    [
        (('unit="V"', 'unit="kV"'), "/m:meterReadout/m:reading", "unit"),
        (('value="230.0"', 'value="high"'), "/m:meterReadout/m:reading", "value"),
        (('phase="L1"', 'phase="L4"'), "/m:meterReadout/m:reading", "phase"),
        ((' device="m-1"', ""), "/m:meterReadout", "device"),
    ],
)
def test_schema_violation(change, element, words) -> None:
    err = refused(DOC.replace(*change).encode())
    assert err.element == element and words in err.reason and err.reason.startswith("schema violation")


@pytest.mark.parametrize(
    ("change", "element", "words"),
    [
        (('quantity="voltage"', 'quantity="rocof"'), "/meterReadout/reading[1]/@quantity", "does not belong"),
        (('unit="V"', 'unit="A"'), "/meterReadout/reading[1]/@unit", "expressed in V"),
        (('value="230.0"', 'value="NaN"'), "/reading[1]/@value", "not finite"),
        (
            ('timestamp="2024-05-01T12:00:00Z"', 'timestamp="2024-05-01T12:00:00"'),
            "/@timestamp",
            "no timezone",
        ),
    ],
)
def test_semantic_violation(change, element, words) -> None:
    err = refused(DOC.replace(*change).encode())
    assert err.element == element and words in err.reason


def test_duplicate_reading_and_phasor_rules() -> None:
    dup = DOC.replace(
        "</meterReadout>", '<reading quantity="voltage" phase="L1" unit="V" value="1"/></meterReadout>'
    )
    assert "appears more than once" in refused(dup.encode()).reason
    bad_phasor = DOC.replace(
        '<reading quantity="voltage" phase="L1" unit="V" value="230.0"/>',
        '<phasor quantity="frequency" unit="Hz" magnitude="50" angle="0"/>',
    )
    assert "cannot be a phasor" in refused(bad_phasor.replace("meterReadout", "pmuFrame").encode()).reason


def test_oversized() -> None:
    err = refused(DOC.encode(), MeasurementCodec(max_bytes=64))
    assert "limit of 64 bytes" in err.reason


def test_naive_timestamp_on_encode() -> None:
    frame = PmuFrame(
        device="pmu-1", timestamp=datetime(2024, 5, 1), readings=(Reading.of(Quantity.FREQUENCY, 50.0, T0),)
    )
    with pytest.raises(MeasurementValidationError, match="timezone"):
        encode(frame)


def test_wrong_unit_on_encode() -> None:
    reading = Reading(quantity=Quantity.ACTIVE_POWER, value=1.0, unit=Unit.WATT_HOUR, timestamp=T0)
    with pytest.raises(MeasurementValidationError, match="active_power is expressed in W, not Wh"):
        encode(MeterReadout(device="m", timestamp=T0, readings=(reading,)))


# -- property ---------------------------------------------------------------------------------------

zones = st.sampled_from([UTC, timezone(timedelta(hours=1)), timezone(timedelta(hours=-3))])
times = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=zones)
finite = st.floats(allow_nan=False, allow_infinity=False)


@st.composite
def payloads(draw):
    cls = draw(st.sampled_from([PmuFrame, MeterReadout]))
    allowed = sorted(PMU_QUANTITIES if cls is PmuFrame else METER_QUANTITIES, key=lambda q: q.value)
    ts = draw(times)
    keys = draw(
        st.lists(
            st.tuples(
                st.sampled_from(allowed), st.none() | st.sampled_from(Phase), st.sampled_from(FieldType)
            ),
            min_size=1,
            max_size=8,
            unique=True,
        )
    )
    readings = []
    for quantity, phase, kind in keys:
        if quantity in PHASOR_QUANTITIES and draw(st.booleans()):
            value = Phasor(draw(st.floats(0, 1e6)), draw(st.floats(-180, 180)))
        else:
            value = draw(finite)
        readings.append(
            Reading(
                quantity=quantity,
                value=value,
                unit=QUANTITY_UNITS[quantity],
                timestamp=draw(st.just(ts) | times),
                phase=phase,
                quality=draw(st.sampled_from(Quality)),
                flags=draw(st.frozensets(st.sampled_from(QualityFlag))),
                field_type=kind,
            )
        )
    return cls(
        device=draw(
            st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), min_size=1, max_size=20)
        ),
        timestamp=ts,
        readings=tuple(readings),
    )


@settings(max_examples=200, deadline=None)
@given(payloads())
def test_round_trip_property(payload) -> None:
    assert decode(encode(payload)) == payload


def test_token_whitespace_and_lax_doubles() -> None:
    """xs:token values may carry whitespace (valid, same meaning); libxml2's "1.0e" is no double."""
    spaced = DOC.replace('phase="L1"', 'phase=" L1 "').replace('unit="V"', 'unit="V\t"')
    assert decode(spaced.encode()) == decode(DOC.encode())
    err = refused(DOC.replace('value="230.0"', 'value="1.0e"').encode())
    assert err.element == "/reading[1]/@value" and "not an xs:double" in err.reason
