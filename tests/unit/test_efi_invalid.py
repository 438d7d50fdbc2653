"""Every class of bad EFI input is refused with one EfiValidationError naming the element and the reason."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import pytest

import xmpp_iot.efi as efi
from xmpp_iot.efi import EfiCodec, EfiValidationError, PayloadError

T0 = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)
NS = 'xmlns:efi="http://www.flexiblepower.org/efi-2"'


def storage_status(**changes) -> efi.StorageStatus:
    msg = efi.StorageStatus(
        efi_resource_id="boiler-7",
        timestamp=T0,
        flexibility_update_id="upd-1",
        valid_from=T0,
        current_fill_level=55.0,
    )
    return dataclasses.replace(msg, **changes)


def status_doc(
    fill: str = "55.0", valid_from: str = "2024-03-01T12:00:00Z", root: str = "StorageStatus"
) -> bytes:
    return (
        f'<efi:{root} {NS} efi:efiVersion="2.0"><efi:header><efi:efiResourceId>boiler-7</efi:efiResourceId>'
        f"<efi:timestamp>2024-03-01T12:00:00Z</efi:timestamp></efi:header>"
        f"<efi:flexibilityUpdateId>upd-1</efi:flexibilityUpdateId><efi:validFrom>{valid_from}</efi:validFrom>"
        f"<efi:currentFillLevel>{fill}</efi:currentFillLevel></efi:{root}>"
    ).encode()


def refused(data: bytes, codec: EfiCodec | None = None) -> EfiValidationError:
    with pytest.raises(EfiValidationError) as err:
        (codec or EfiCodec()).decode(data)
    assert isinstance(err.value, PayloadError) and isinstance(err.value, ValueError)
    assert str(err.value) == f"{err.value.element}: {err.value.reason}"
    return err.value


def test_the_valid_baseline_decodes() -> None:
    assert EfiCodec().decode(status_doc()) == storage_status()


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"<efi:StorageStatus",
        b"not xml at all",
        b"<a><b></a>",
        status_doc()[:-5],
        "\udcff".encode("utf-8", "surrogatepass"),
    ],
)
def test_not_well_formed(data: bytes) -> None:
    err = refused(data)
    assert err.element == "(document)"
    assert "not well-formed" in err.reason


def test_wrong_namespace() -> None:
    err = refused(
        status_doc().replace(b"http://www.flexiblepower.org/efi-2", b"http://www.flexiblepower.org/efi")
    )
    assert err.element == "/StorageStatus"
    assert "expected the EFI 2.0 namespace" in err.reason


def test_no_namespace() -> None:
    err = refused(b"<StorageStatus/>")
    assert "namespace None" in err.reason


def test_unknown_root_element() -> None:
    err = refused(f"<efi:Hello {NS}/>".encode())
    assert err.element == "/efi:Hello"
    assert "not an EFI 2.0 message" in err.reason


@pytest.mark.parametrize(
    ("data", "element", "words"),
    [
        (status_doc(fill="lots"), "/efi:StorageStatus/efi:currentFillLevel", "xs:double"),
        (
            status_doc().replace(b'efi:efiVersion="2.0"', b'efi:efiVersion="1.0"'),
            "/efi:StorageStatus",
            "efiVersion",
        ),
        (status_doc().replace(b' efi:efiVersion="2.0"', b""), "/efi:StorageStatus", "efiVersion"),
        (
            status_doc().replace(b' efi:efiVersion="2.0"', b' efiVersion="2.0"'),
            "/efi:StorageStatus",
            "efiVersion",
        ),
        (
            status_doc().replace(b"boiler-7", b"b"),
            "/efi:StorageStatus/efi:header/efi:efiResourceId",
            "pattern",
        ),
        (
            status_doc().replace(b"<efi:validFrom>", b"<efi:extra/><efi:validFrom>"),
            "/efi:StorageStatus/efi:extra",
            "not expected",
        ),
    ],
)
def test_schema_violation_names_the_element(data: bytes, element: str, words: str) -> None:
    err = refused(data)
    assert err.element == element
    assert err.reason.startswith("schema violation")
    assert words in err.reason


def test_oversized_document_is_refused_before_parsing() -> None:
    codec = EfiCodec(max_bytes=300)
    data = status_doc()
    assert len(data) > 300
    err = refused(data, codec)
    assert "more than the limit of 300 bytes" in err.reason
    assert EfiCodec(max_bytes=len(data)).decode(data) == storage_status()


def test_entities_are_not_expanded_and_doctype_refused() -> None:
    bomb = (
        b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;">]>'
        + status_doc().replace(b"boiler-7", b"&lol2;")
    )
    err = refused(bomb)
    assert err.element == "(document)"


def test_external_entity_is_not_resolved(tmp_path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("boiler-7")
    data = (
        f'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file://{secret}">]>'.encode()
        + status_doc().replace(b">boiler-7<", b">&e;<")
    )
    err = refused(data)
    assert "DOCTYPE" in err.reason or "not well-formed" in err.reason


def test_naive_datetime_in_document() -> None:
    err = refused(status_doc(valid_from="2024-03-01T12:00:00"))
    assert err.element == "/efi:StorageStatus/efi:validFrom"
    assert "no timezone offset" in err.reason


def test_naive_datetime_in_document_accepted_with_an_assumed_zone() -> None:
    msg = EfiCodec(assume_tz=UTC).decode(status_doc(valid_from="2024-03-01T12:00:00"))
    assert msg.valid_from == T0 and msg.valid_from.tzinfo is UTC


def test_naive_datetime_on_encode() -> None:
    with pytest.raises(EfiValidationError) as err:
        efi.encode(storage_status(valid_from=datetime(2024, 3, 1, 12)))
    assert err.value.element == "/efi:StorageStatus/efi:validFrom"
    assert "timezone" in err.value.reason


def test_unrepresentable_datetime() -> None:
    err = refused(status_doc(valid_from="10000-01-01T00:00:00Z"))
    assert err.element == "/efi:StorageStatus/efi:validFrom"


def test_infinite_number() -> None:
    err = refused(status_doc(fill="INF"))
    assert err.element == "/efi:StorageStatus/efi:currentFillLevel"
    assert "not finite" in err.reason
    with pytest.raises(EfiValidationError, match="currentFillLevel: number is not finite"):
        efi.encode(storage_status(current_fill_level=float("nan")))


def test_wrong_python_type_on_encode() -> None:
    with pytest.raises(EfiValidationError, match="expected a number"):
        efi.encode(storage_status(current_fill_level="55"))
    with pytest.raises(EfiValidationError, match="efiResourceId"):
        efi.encode(storage_status(efi_resource_id="x"))


# -- semantic rules -----------------------------------------------------------------------------


def forecast(*durations: timedelta) -> efi.InflexibleForecast:
    return efi.InflexibleForecast(
        efi_resource_id="pv-1",
        timestamp=T0,
        flexibility_update_id="f-1",
        valid_from=T0,
        forecast_profiles=efi.ProfileContainer(
            electricity=efi.ElectricityProfile(
                elements=tuple(efi.ElectricityProfileElement(duration=d, power=-1500.0) for d in durations)
            )
        ),
    )


def both_ways(msg: efi.EfiMessage, element: str, words: str) -> None:
    """The rule holds when encoding and when decoding a document that breaks it."""
    with pytest.raises(EfiValidationError) as err:
        efi.encode(msg)
    assert err.value.element == element and words in err.value.reason
    # the same message written by someone else's encoder: bypass our checks on the way out
    doc = efi.codec._default._encoder.encode(msg)
    from lxml import etree

    with pytest.raises(EfiValidationError) as err:
        efi.decode(etree.tostring(doc))
    assert err.value.element == element and words in err.value.reason


def test_profile_element_shorter_than_one_second() -> None:
    both_ways(
        forecast(timedelta(seconds=5), timedelta(milliseconds=500)),
        "InflexibleForecast/forecastProfiles/electricityProfile/element[2]/@duration",
        "shortest allowed is 1 s",
    )


@pytest.mark.parametrize("duration", [timedelta(0), timedelta(seconds=-5)])
def test_non_positive_profile_duration(duration: timedelta) -> None:
    both_ways(
        forecast(duration),
        "InflexibleForecast/forecastProfiles/electricityProfile/element[1]/@duration",
        "shortest allowed is 1 s",
    )


def test_negative_processing_delay() -> None:
    msg = efi.InflexibleRegistration(
        efi_resource_id="pv-1",
        timestamp=T0,
        instruction_processing_delay=timedelta(seconds=-1),
        device_description=efi.DeviceDescription(device_class=efi.DeviceClass.PV_PANEL),
        supported_commodities=(efi.Commodity.ELECTRICITY,),
    )
    both_ways(msg, "InflexibleRegistration/instructionProcessingDelay", "negative")


def test_fill_level_bounds_inverted() -> None:
    msg = efi.StorageFillLevelTargetProfile(
        efi_resource_id="boiler-7",
        timestamp=T0,
        flexibility_update_id="t-1",
        valid_from=T0,
        target_profile=efi.TargetProfile(
            elements=(
                efi.TargetProfileElement(
                    duration=timedelta(hours=1), fill_level_lower_bound=60, fill_level_upper_bound=80
                ),
                efi.TargetProfileElement(
                    duration=timedelta(hours=1), fill_level_lower_bound=80, fill_level_upper_bound=60
                ),
            )
        ),
    )
    both_ways(
        msg,
        "StorageFillLevelTargetProfile/targetProfile/element[2]",
        "lower bound 80 is above its upper bound 60",
    )


def test_curtailment_range_inverted() -> None:
    msg = efi.InflexibleCurtailmentOptions(
        efi_resource_id="pv-1",
        timestamp=T0,
        flexibility_update_id="c-1",
        valid_from=T0,
        curtailment_options=(
            efi.CurtailmentOption(
                curtailment_quantity=efi.CurtailmentQuantity.ELECTRICITY_POWER,
                curtailment_ranges=(efi.CurtailmentRange(lower_bound=100.0, upper_bound=0.0),),
            ),
        ),
    )
    both_ways(
        msg,
        "InflexibleCurtailmentOptions/curtailmentOptions/curtailmentOption[1]/curtailmentRange[1]",
        "above its upper bound",
    )


def test_empty_measurement() -> None:
    both_ways(
        efi.Measurement(efi_resource_id="m-1", timestamp=T0, measurement_timestamp=T0),
        "Measurement",
        "must contain an electricity, gas or heat measurement",
    )
    both_ways(
        efi.Measurement(efi_resource_id="m-1", timestamp=T0, measurement_timestamp=T0, heat=efi.HeatValues()),
        "Measurement/heatMeasurement",
        "at least one of",
    )


def test_end_before_earlier_than_valid_from() -> None:
    msg = efi.ShiftableUpdate(
        efi_resource_id="wm-1",
        timestamp=T0,
        flexibility_update_id="s-1",
        valid_from=T0,
        end_before=T0 - timedelta(hours=1),
        sequential_profiles=(
            efi.SequentialProfile(
                sequence_nr=0,
                max_interval_before=timedelta(0),
                alternatives=(
                    efi.SequentialProfileAlternative(alternative_nr=0, profiles=efi.ProfileContainer()),
                ),
            ),
        ),
    )
    both_ways(msg, "ShiftableUpdate/endBefore", "before validFrom")


def adjustable(transitions, timers=()) -> efi.AdjustableSystemDescription:
    return efi.AdjustableSystemDescription(
        efi_resource_id="gen-1",
        timestamp=T0,
        flexibility_update_id="a-1",
        valid_from=T0,
        running_modes=(
            efi.AdjustableDiscreteRunningMode(id=0, label="off", electrical_power=0.0),
            efi.AdjustableDiscreteRunningMode(id=1, label="on", electrical_power=-3000.0),
        ),
        transitions=transitions,
        timers=timers,
    )


def test_transition_to_unknown_running_mode() -> None:
    both_ways(
        adjustable((efi.Transition(from_running_mode_id=0, to_running_mode_id=2),)),
        "AdjustableSystemDescription/transitions/transition[1]/@toRunningModeId",
        "running mode 2 is not described",
    )


def test_transition_with_unknown_timer() -> None:
    timers = (efi.Timer(id=1, label="min on", duration=timedelta(minutes=5)),)
    both_ways(
        adjustable(
            (efi.Transition(from_running_mode_id=0, to_running_mode_id=1, blocking_timers=(2,)),), timers
        ),
        "AdjustableSystemDescription/transitions/transition[1]/blockingTimers",
        "timer 2 is not described",
    )


def test_timer_without_duration() -> None:
    timers = (efi.Timer(id=1, label="min on", duration=timedelta(0)),)
    both_ways(
        adjustable((efi.Transition(from_running_mode_id=0, to_running_mode_id=1),), timers),
        "AdjustableSystemDescription/timers/timer[1]/@duration",
        "longer than zero",
    )


def test_duplicate_running_mode_id() -> None:
    msg = dataclasses.replace(
        adjustable((efi.Transition(from_running_mode_id=0, to_running_mode_id=0),)),
        running_modes=(
            efi.AdjustableDiscreteRunningMode(id=0, label="a"),
            efi.AdjustableDiscreteRunningMode(id=0, label="b"),
        ),
    )
    both_ways(msg, "AdjustableSystemDescription/runningModes", "running mode id 0 is used more than once")


def test_calendar_duration_is_refused() -> None:
    doc = (
        f'<efi:InflexibleRegistration {NS} efi:efiVersion="2.0"><efi:header><efi:efiResourceId>pv-1</efi:efiResourceId>'
        "<efi:timestamp>2024-03-01T12:00:00Z</efi:timestamp></efi:header>"
        "<efi:instructionProcessingDelay>P1M</efi:instructionProcessingDelay>"
        "<efi:deviceDescription><efi:deviceClass>PV Panel</efi:deviceClass></efi:deviceDescription>"
        "<efi:supportedCommodities><efi:commodityType>ELECTRICITY</efi:commodityType></efi:supportedCommodities>"
        "</efi:InflexibleRegistration>"
    ).encode()
    err = refused(doc)
    assert err.element == "/efi:InflexibleRegistration/efi:instructionProcessingDelay"
    assert "years or months" in err.reason


def shiftable(*phases: tuple[int, int, timedelta, timedelta]) -> efi.ShiftableUpdate:
    """(sequenceNr, alternativeNr, maxIntervalBefore, element duration) per phase."""
    return efi.ShiftableUpdate(
        efi_resource_id="wm-1", timestamp=T0, flexibility_update_id="s-1", valid_from=T0,
        end_before=T0 + timedelta(hours=8),
        sequential_profiles=tuple(
            efi.SequentialProfile(
                sequence_nr=nr, max_interval_before=interval,
                alternatives=(efi.SequentialProfileAlternative(alternative_nr=alt, profiles=efi.ProfileContainer(
                    electricity=efi.ElectricityProfile(elements=(
                        efi.ElectricityProfileElement(duration=timedelta(minutes=5), power=100.0),
                        efi.ElectricityProfileElement(duration=duration, power=200.0),
                    )))),),
            )
            for nr, alt, interval, duration in phases
        ),
    )


OK_PHASE = (0, 0, timedelta(0), timedelta(minutes=1))


@pytest.mark.parametrize(
    ("phases", "element", "words"),
    [
        ((OK_PHASE, (0, 0, timedelta(0), timedelta(minutes=1))), "ShiftableUpdate/sequentialProfiles",
         "sequenceNr 0 is used more than once"),
        ((OK_PHASE, (1, 0, timedelta(seconds=-1), timedelta(minutes=1))),
         "ShiftableUpdate/sequentialProfiles/sequentialProfile[2]/maxIntervalBefore", "negative"),
        ((OK_PHASE, (1, 0, timedelta(0), timedelta(milliseconds=10))),
         "ShiftableUpdate/sequentialProfiles/sequentialProfile[2]/sequentialProfileAlternatives/"
         "sequentialProfileAlternative[1]/electricityProfile/element[2]/@duration", "shortest allowed is 1 s"),
    ],
)
def test_shiftable_rules_name_the_element(phases, element: str, words: str) -> None:
    """The fast rule check of a ShiftableUpdate falls back to the one that builds the path."""
    both_ways(shiftable(*phases), element, words)


def test_shiftable_update_with_valid_phases_decodes() -> None:
    msg = shiftable(OK_PHASE, (1, 0, timedelta(minutes=30), timedelta(seconds=1)))
    assert efi.decode(efi.encode(msg)) == msg


def test_power_written_in_either_attribute_order() -> None:
    doc = efi.encode(shiftable(OK_PHASE)).replace(
        b'efi:duration="PT5M" efi:power="100.0"', b'efi:power="100.0" efi:duration="PT5M"'
    )
    assert b'efi:power="100.0" efi:duration' in doc
    assert efi.decode(doc) == shiftable(OK_PHASE)


def test_double_that_libxml2_lets_through_is_refused() -> None:
    """libxml2 accepts "1.0e" as an xs:double; it is not one, and must not crash the decoder."""
    err = refused(status_doc(fill="1.0e"))
    assert err.element == "/efi:StorageStatus/efi:currentFillLevel" and "not an xs:double" in err.reason
    doc = efi.encode(shiftable(OK_PHASE)).replace(b'efi:power="200.0"', b'efi:power="2.e+"')
    err = refused(doc)
    assert err.element.endswith("/efi:electricityProfile/efi:element[2]/@power")
