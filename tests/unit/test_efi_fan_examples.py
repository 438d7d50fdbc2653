"""FAN's own EFI 2.0 examples against our schema, our classes and FAN's schema.

"Equivalent" (see xmpp_iot.efi.equivalence): same elements and attributes by namespace and local name,
in the same order, with values equal in their XML Schema value space (dateTime as an instant, with
offset-less times read as UTC; durations as lengths; doubles as floats), schema defaults filled in and
schemaLocation hints ignored.
"""

from __future__ import annotations

from datetime import UTC
from pathlib import Path

import pytest
from lxml import etree

from xmpp_iot.efi import MESSAGE_CLASSES, EfiCodec, EfiValidationError, equivalent
from xmpp_iot.efi.xmldoc import SCHEMA_DIR

FAN_DIR = Path(__file__).resolve().parents[3] / "shared" / "reference" / "efi" / "efi-2.0"
FAN_XSD = FAN_DIR / "efi-2.0.xsd"
EXAMPLES = sorted((FAN_DIR / "examples").glob("*.xml")) if FAN_DIR.exists() else []

#: the examples FAN's own schema rejects: written against a release candidate (see schemas/README.md)
REJECTED = {
    "StorageStateUpdate-example01.xml": ("/efi:StorageStateUpdate", "StorageStatus"),
    "StorageTargetProfileUpdate-example01.xml": (
        "/efi:StorageTargetProfileUpdate",
        "StorageFillLevelTargetProfile",
    ),
    "StorageUsageForecastUpdate-example01.xml": ("/efi:StorageUsageForecastUpdate", "StorageUsageForecast"),
    "StorageSystemDescription-example01.xml": ("efi:electricityConsumption", "not expected"),
}
ACCEPTED = [p for p in EXAMPLES if p.name not in REJECTED]

pytestmark = pytest.mark.skipif(not FAN_DIR.exists(), reason=f"FAN reference data not found at {FAN_DIR}")

FAN_CODEC = EfiCodec(assume_tz=UTC)  # FAN's examples write times without an offset


@pytest.fixture(scope="module")
def fan_schema() -> etree.XMLSchema:
    return etree.XMLSchema(etree.parse(str(FAN_XSD)))


@pytest.fixture(scope="module")
def our_schema() -> etree.XMLSchema:
    return etree.XMLSchema(etree.parse(str(SCHEMA_DIR / "efi-2.0.xsd")))


def test_reference_set_is_complete() -> None:
    assert len(EXAMPLES) == 21
    assert len(ACCEPTED) == 17


def test_our_schema_is_not_a_copy_of_fans() -> None:
    assert (SCHEMA_DIR / "efi-2.0.xsd").read_bytes() != FAN_XSD.read_bytes()


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_our_schema_agrees_with_fans_on_every_example(path: Path, fan_schema, our_schema) -> None:
    doc = etree.parse(str(path))
    assert our_schema.validate(doc) == fan_schema.validate(doc) == (path.name not in REJECTED)


@pytest.mark.parametrize("path", ACCEPTED, ids=lambda p: p.name)
def test_accepted_example_decodes_and_reencodes_equivalently(path: Path, fan_schema) -> None:
    original = path.read_bytes()
    msg = FAN_CODEC.decode(original)
    assert type(msg) is MESSAGE_CLASSES[path.name.split("-")[0]]
    out = FAN_CODEC.encode(msg)
    assert equivalent(original, out)
    assert fan_schema.validate(etree.fromstring(out)), fan_schema.error_log
    assert FAN_CODEC.decode(out) == msg


@pytest.mark.parametrize("path", ACCEPTED, ids=lambda p: p.name)
def test_strict_codec_refuses_fans_offsetless_times(path: Path) -> None:
    with pytest.raises(EfiValidationError, match="no timezone offset") as err:
        EfiCodec().decode(path.read_bytes())
    assert err.value.element.startswith("/efi:")


@pytest.mark.parametrize("name", sorted(REJECTED))
def test_rejected_example_names_the_element(name: str) -> None:
    element, words = REJECTED[name]
    with pytest.raises(EfiValidationError) as err:
        FAN_CODEC.decode((FAN_DIR / "examples" / name).read_bytes())
    assert element in err.value.element or element in err.value.reason
    assert words in str(err.value)


def test_equivalence_notices_a_changed_value() -> None:
    original = (FAN_DIR / "examples" / "InflexibleForecast-example01.xml").read_bytes()
    changed = original.replace(b'efi:power="500"', b'efi:power="501"', 1)
    assert not equivalent(original, changed)
    assert equivalent(original, original.replace(b'efi:power="500"', b'efi:power="500.0"'))


def test_decoded_example_values_and_units() -> None:
    msg = FAN_CODEC.decode((FAN_DIR / "examples" / "InflexibleForecast-example01.xml").read_bytes())
    profile = msg.forecast_profiles.electricity
    slots = list(profile.timeslots(msg.valid_from))
    assert [s.element.power for s in slots] == [500.0, 500.0]
    assert slots[0].start == msg.valid_from and slots[0].start.tzinfo is UTC
    assert slots[1].end - slots[0].start == profile.total_duration()
    assert profile.total_duration().total_seconds() == 10
