"""Lexical forms on the wire, and decoding straight from stanza elements (xml.etree and lxml)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta, timezone

import pytest
from lxml import etree

import xmpp_iot.efi as efi
from xmpp_iot.efi.lexical import (
    LexicalError,
    format_datetime,
    format_duration,
    parse_datetime,
    parse_duration,
)

T0 = datetime(2024, 3, 1, 12, tzinfo=UTC)


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (timedelta(0), "PT0S"),
        (timedelta(seconds=5), "PT5S"),
        (timedelta(minutes=10), "PT10M"),
        (timedelta(days=1), "P1D"),
        (timedelta(days=1, hours=2, seconds=3), "P1DT2H3S"),
        (timedelta(seconds=1, milliseconds=500), "PT1.5S"),
        (timedelta(seconds=-90), "-PT1M30S"),
    ],
)
def test_duration_forms(value: timedelta, text: str) -> None:
    assert format_duration(value) == text
    assert parse_duration(text) == value


def test_duration_equivalent_spellings() -> None:
    assert parse_duration("PT60S") == parse_duration("PT1M") == parse_duration("P0DT1M")
    assert parse_duration("P0Y0M1D") == timedelta(days=1)
    with pytest.raises(LexicalError, match="years or months"):
        parse_duration("P1Y")


def test_datetime_forms() -> None:
    assert format_datetime(T0) == "2024-03-01T12:00:00Z"
    cet = datetime(2024, 3, 1, 13, tzinfo=timezone(timedelta(hours=1)))
    assert format_datetime(cet) == "2024-03-01T13:00:00+01:00"
    assert parse_datetime("2024-03-01T13:00:00+01:00") == T0
    assert parse_datetime("2024-03-01T12:00:00.250Z") == T0 + timedelta(milliseconds=250)
    assert parse_datetime("2024-03-01T12:00:00").tzinfo is None
    with pytest.raises(LexicalError, match="timezone"):
        format_datetime(datetime(2024, 3, 1))


def measurement() -> efi.Measurement:
    return efi.Measurement(
        efi_resource_id="hp-1",
        timestamp=T0,
        measurement_timestamp=T0 - timedelta(seconds=1),
        electricity=efi.ElectricityMeasurement(power=1800.0),
        heat=efi.HeatValues(temperature=55.5, thermal_power=-5400.0),
    )


def test_encoded_document_shape() -> None:
    data = efi.encode(measurement())
    assert data.startswith(
        b'<efi:Measurement xmlns:efi="http://www.flexiblepower.org/efi-2" efi:efiVersion="2.0">'
    )
    assert b'<efi:electricityMeasurement efi:power="1800.0"/>' in data
    assert b'efi:temperature="55.5"' in data and b"<?xml" not in data


def test_decode_from_xml_etree_element_inside_a_stanza() -> None:
    stanza = ET.fromstring(
        b"<message xmlns='jabber:client'><event xmlns='http://jabber.org/protocol/pubsub#event'><items node='efi'>"
        b"<item id='1'>" + efi.encode(measurement()) + b"</item></items></event></message>"
    )
    payload = stanza.find(".//{http://www.flexiblepower.org/efi-2}Measurement")
    assert efi.decode_element(payload) == measurement()


def test_decode_from_lxml_element() -> None:
    wrapper = etree.fromstring(b"<item>" + efi.encode(measurement()) + b"</item>")
    assert efi.decode_element(wrapper[0]) == measurement()


def test_encode_element_gives_xml_etree() -> None:
    el = efi.encode_element(measurement())
    assert isinstance(el, ET.Element)
    assert el.tag == "{http://www.flexiblepower.org/efi-2}Measurement"
    assert efi.decode_element(el) == measurement()


def test_decode_element_refuses_other_payloads() -> None:
    with pytest.raises(efi.EfiValidationError, match=r"expected the EFI 2\.0 namespace"):
        efi.decode_element(ET.fromstring("<ping xmlns='urn:xmpp:ping'/>"))


def test_decode_element_reports_errors_like_decode() -> None:
    el = efi.encode_element(measurement())
    el.find("{http://www.flexiblepower.org/efi-2}electricityMeasurement").set(
        "{http://www.flexiblepower.org/efi-2}power", "lots"
    )
    with pytest.raises(efi.EfiValidationError) as err:
        efi.decode_element(el)
    assert err.value.element == "/efi:Measurement/efi:electricityMeasurement"
    assert "power" in err.value.reason


def test_decode_element_respects_the_size_limit() -> None:
    el = efi.encode_element(measurement())
    with pytest.raises(efi.EfiValidationError, match="more than the limit of 100 bytes"):
        efi.EfiCodec(max_bytes=100).decode_element(el)
