"""The XEP-0325 control form: a XEP-0004 data form with XEP-0122 validation and XEP-0336 ``notSame``.

XEP-0325 §3.3.1 requires every parameter in the form to be marked ``notSame`` (so submitting an
untouched form changes nothing) and to carry XEP-0122 validation (datatype and, where it applies, a
range), so a client can learn the parameter types from the form and then send typed ``set`` commands.
Parameters are grouped in XEP-0141 pages when the device names one. Colours use the XEP-0331 datatypes
``xdc:Color``/``xdc:ColorAlpha`` plus a XEP-0122 regex that any client understands.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from xml.etree.ElementTree import Element, SubElement

from ..sensordata.values import format_value, parse_value
from .model import Color, Parameter

__all__ = ["ParameterInfo", "build_form", "parse_form", "submit_form", "submitted_values"]

XDATA = "jabber:x:data"
XDV = "http://jabber.org/protocol/xdata-validate"
XDL = "http://jabber.org/protocol/xdata-layout"
XDD = "urn:xmpp:xdata:dynamic"
XDC = "urn:xmpp:xdata:color"
COLOR_REGEX = "^([0-9a-fA-F]{6})|([0-9a-fA-F]{8})$"

_DATATYPES = {
    "int": "xs:int",
    "long": "xs:long",
    "double": "xs:double",
    "date": "xs:date",
    "dateTime": "xs:dateTime",
    "time": "xs:time",
    "duration": "xs:duration",
    "string": "xs:string",
    "boolean": "xs:boolean",
    "color": "xdc:ColorAlpha",
}
_FROM_DATATYPE = {v: k for k, v in _DATATYPES.items()} | {"xdc:Color": "color"}
SESSION_VAR = "xdd session"


@dataclass(frozen=True, slots=True)
class ParameterInfo:
    """What an application learns about one parameter from a control form."""

    name: str
    type: str
    label: str = ""
    description: str = ""
    value: object = None
    minimum: object = None
    maximum: object = None
    options: tuple[str, ...] = ()
    not_same: bool = False


def build_form(title: str, parameters: Iterable[Parameter], current: dict[str, object]) -> Element:
    """The form of these parameters with their current values (absent when unknown)."""
    x = Element(f"{{{XDATA}}}x", {"type": "form"})
    SubElement(x, f"{{{XDATA}}}title").text = title
    parameters = list(parameters)
    pages: dict[str, list[str]] = {}
    for p in parameters:
        if p.page:
            pages.setdefault(p.page, []).append(p.name)
    for label, names in pages.items():
        page = SubElement(x, f"{{{XDL}}}page", {"label": label})
        for name in names:
            SubElement(page, f"{{{XDL}}}fieldref", {"var": name})
    for p in parameters:
        kind = "boolean" if p.type == "boolean" else "list-single" if p.options else "text-single"
        f = SubElement(x, f"{{{XDATA}}}field", {"var": p.name, "type": kind, "label": p.label or p.name})
        if p.description:
            SubElement(f, f"{{{XDATA}}}desc").text = p.description
        if (value := current.get(p.name)) is not None:
            SubElement(f, f"{{{XDATA}}}value").text = _lexical(p.type, value)
        for option in p.options:
            SubElement(SubElement(f, f"{{{XDATA}}}option", {"label": option}), f"{{{XDATA}}}value").text = option
        validate = SubElement(f, f"{{{XDV}}}validate", {"datatype": _DATATYPES[p.type]})
        if p.options:
            SubElement(validate, f"{{{XDV}}}basic")
        elif p.minimum is not None or p.maximum is not None:
            attrs = {}
            if p.minimum is not None:
                attrs["min"] = _lexical(p.type, p.minimum)
            if p.maximum is not None:
                attrs["max"] = _lexical(p.type, p.maximum)
            SubElement(validate, f"{{{XDV}}}range", attrs)
        elif p.type == "color":
            SubElement(validate, f"{{{XDV}}}regex").text = COLOR_REGEX
        else:
            SubElement(validate, f"{{{XDV}}}basic")
        SubElement(f, f"{{{XDD}}}notSame")
    return x


def parse_form(x: Element) -> dict[str, ParameterInfo]:
    """Parameters of a control form, typed from their XEP-0122 datatypes (in form order)."""
    out: dict[str, ParameterInfo] = {}
    for f in x.findall(f"{{{XDATA}}}field"):
        var = f.get("var", "")
        if not var or f.get("type") in ("hidden", "fixed") or var == "FORM_TYPE":
            continue
        validate = f.find(f"{{{XDV}}}validate")
        datatype = validate.get("datatype", "xs:string") if validate is not None else "xs:string"
        kind = "boolean" if f.get("type") == "boolean" else _FROM_DATATYPE.get(datatype, "string")
        value_el = f.find(f"{{{XDATA}}}value")
        rng = validate.find(f"{{{XDV}}}range") if validate is not None else None
        out[var] = ParameterInfo(
            name=var,
            type=kind,
            label=f.get("label", ""),
            description=(f.findtext(f"{{{XDATA}}}desc") or ""),
            value=_typed(kind, value_el.text or "") if value_el is not None else None,
            minimum=_typed(kind, rng.get("min")) if rng is not None and rng.get("min") else None,
            maximum=_typed(kind, rng.get("max")) if rng is not None and rng.get("max") else None,
            options=tuple(o.findtext(f"{{{XDATA}}}value") or "" for o in f.findall(f"{{{XDATA}}}option")),
            not_same=f.find(f"{{{XDD}}}notSame") is not None,
        )
    return out


def submit_form(values: dict[str, str]) -> Element:
    """A partial ``submit`` form with only the given (lexical) values, as XEP-0325 §3.3.3 asks."""
    x = Element(f"{{{XDATA}}}x", {"type": "submit"})
    for var, text in values.items():
        SubElement(SubElement(x, f"{{{XDATA}}}field", {"var": var}), f"{{{XDATA}}}value").text = text
    return x


def submitted_values(x: Element) -> list[tuple[str, str]]:
    """(var, text) of each field of a submitted form, skipping the session and FORM_TYPE fields."""
    out = []
    for f in x.findall(f"{{{XDATA}}}field"):
        var = f.get("var", "")
        if var in ("", SESSION_VAR, "FORM_TYPE") or f.get("type") == "hidden":
            continue
        out.append((var, f.findtext(f"{{{XDATA}}}value") or ""))
    return out


def _lexical(kind: str, value: object) -> str:
    if kind == "color":
        return value.hex if isinstance(value, Color) else str(value)
    return format_value(kind, value)


def _typed(kind: str, text: str | None) -> object:
    if text is None:
        return None
    try:
        return Color.from_hex(text) if kind == "color" else parse_value(kind, text)
    except ValueError:
        return text
