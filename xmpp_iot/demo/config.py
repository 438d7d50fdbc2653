"""The demo neighbourhood as typed values, read from TOML (``tomllib``).

A DSO edits this file first, so every mistake must be explained in its own terms: the
message names the key (``households.count``) and the problem, never a Python traceback.
"""

from __future__ import annotations

import dataclasses
import tomllib
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = [
    "DEFAULT_CONFIG",
    "DEVICE_KINDS",
    "ConfigError",
    "DemoConfig",
    "FeederConfig",
    "HouseholdsConfig",
    "PmuConfig",
    "ScenarioConfig",
    "load_config",
    "parse_config",
]

DEFAULT_CONFIG = Path(__file__).with_name("neighbourhood.toml")

#: household device kinds; each has a module in :mod:`xmpp_iot.demo.devices`
DEVICE_KINDS = ("meter", "pv", "heat_pump", "battery", "ev_charger", "washing_machine")


class ConfigError(ValueError):
    """A neighbourhood file that cannot be used; ``key`` is the dotted TOML key at fault."""

    def __init__(self, key: str, problem: str, source: str = "") -> None:
        self.key, self.problem, self.source = key, problem, source
        where = f"{source}: " if source else ""
        super().__init__(f"{where}{key}: {problem}" if key else f"{where}{problem}")


@dataclass(frozen=True, slots=True)
class FeederConfig:
    name: str = "feeder1"
    nominal_voltage_v: float = 230.0
    segment_resistance_ohm: float = 0.04
    segment_reactance_ohm: float = 0.015
    rated_current_a: float = 80.0
    voltage_min_pu: float = 0.90
    voltage_max_pu: float = 1.10
    loading_limit: float = 1.0

    def problems(self) -> dict[str, str]:
        found = _positive(self, "nominal_voltage_v", "rated_current_a", "loading_limit")
        found |= _not_negative(self, "segment_resistance_ohm", "segment_reactance_ohm")
        if not self.name or "/" in self.name:
            found["name"] = "must be a non-empty name without '/'"
        if not 0 < self.voltage_min_pu < 1 < self.voltage_max_pu:
            found["voltage_min_pu"] = "need 0 < voltage_min_pu < 1 < voltage_max_pu"
        return found


@dataclass(frozen=True, slots=True)
class HouseholdsConfig:
    count: int = 6
    base_load_w: float = 700.0
    devices: tuple[str, ...] = DEVICE_KINDS

    def problems(self) -> dict[str, str]:
        found = _not_negative(self, "base_load_w")
        if not 1 <= self.count <= 100_000:
            found["count"] = f"must be between 1 and 100000, not {self.count}"
        unknown = [d for d in self.devices if d not in DEVICE_KINDS]
        if unknown:
            found["devices"] = f"unknown device kind(s) {unknown}; choose from {list(DEVICE_KINDS)}"
        elif len(set(self.devices)) != len(self.devices):
            found["devices"] = "lists a device kind twice"
        return found


@dataclass(frozen=True, slots=True)
class PmuConfig:
    count: int = 2

    def problems(self) -> dict[str, str]:
        return {} if 0 <= self.count <= 1000 else {"count": f"must be between 0 and 1000, not {self.count}"}


@dataclass(frozen=True, slots=True)
class ScenarioConfig:
    step_s: float = 1.0
    meter_period_s: float = 2.0
    peak_at_s: float = 5.0
    hold_s: float = 60.0
    crash_device: str = ""
    crash_at_s: float = 15.0

    def problems(self) -> dict[str, str]:
        found = _positive(self, "step_s", "meter_period_s", "hold_s")
        found |= _not_negative(self, "peak_at_s", "crash_at_s")
        return found


@dataclass(frozen=True, slots=True)
class DemoConfig:
    feeder: FeederConfig = field(default_factory=FeederConfig)
    households: HouseholdsConfig = field(default_factory=HouseholdsConfig)
    pmus: PmuConfig = field(default_factory=PmuConfig)
    scenario: ScenarioConfig = field(default_factory=ScenarioConfig)

    def household_names(self) -> list[str]:
        width = max(2, len(str(self.households.count)))
        return [f"h{i:0{width}d}" for i in range(1, self.households.count + 1)]

    def device_names(self) -> list[str]:
        """Every simulated device's account name (``h01-ev_charger``, ``pmu1``)."""
        names = [f"pmu{i}" for i in range(1, self.pmus.count + 1)]
        for house in self.household_names():
            names += [f"{house}-{kind}" for kind in self.households.devices]
        return names

    def replace(self, **sections: dict[str, Any]) -> DemoConfig:
        """A copy with some keys of some sections changed (``replace(households={"count": 3})``)."""
        changed = {name: dataclasses.replace(getattr(self, name), **values) for name, values in sections.items()}
        config = dataclasses.replace(self, **changed)
        _check(config, "")
        return config


def load_config(path: Path | str | None = None) -> DemoConfig:
    """Read and check a neighbourhood file (the shipped default without a path)."""
    path = Path(path) if path is not None else DEFAULT_CONFIG
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError("", f"cannot read the file: {exc.strerror or exc}", str(path)) from None
    return parse_config(text, str(path))


def parse_config(text: str, source: str = "<string>") -> DemoConfig:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError("", f"not valid TOML: {exc}", source) from None
    config = _build(DemoConfig, data, "", source)
    _check(config, source)
    return config


# -- helpers ----------------------------------------------------------------------------------
def _build(cls: type, table: Any, prefix: str, source: str) -> Any:
    if not isinstance(table, dict):
        raise ConfigError(prefix.rstrip("."), f"must be a table, not {_kind(table)}", source)
    hints = typing.get_type_hints(cls)
    fields = {f.name for f in dataclasses.fields(cls)}
    for key in table:
        if key not in fields:
            raise ConfigError(f"{prefix}{key}", f"unknown key; known keys here: {sorted(fields)}", source)
    values = {key: _coerce(hints[key], value, f"{prefix}{key}", source) for key, value in table.items()}
    return cls(**values)


def _coerce(hint: Any, value: Any, key: str, source: str) -> Any:
    if dataclasses.is_dataclass(hint):
        return _build(hint, value, key + ".", source)
    origin = typing.get_origin(hint)
    if origin is tuple:
        (item,) = {a for a in typing.get_args(hint) if a is not Ellipsis}
        if not isinstance(value, list):
            raise ConfigError(key, f"must be a list, not {_kind(value)}", source)
        return tuple(_coerce(item, v, f"{key}[{i}]", source) for i, v in enumerate(value))
    if hint is float and isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if isinstance(hint, type) and isinstance(value, hint) and not (hint is int and isinstance(value, bool)):
        return value
    if isinstance(hint, types.UnionType):  # not used today; keeps the checker honest
        raise ConfigError(key, "unsupported type", source)
    raise ConfigError(key, f"must be {_name(hint)}, not {_kind(value)} ({value!r})", source)


def _check(config: DemoConfig, source: str) -> None:
    for section in dataclasses.fields(config):
        for key, problem in getattr(config, section.name).problems().items():
            raise ConfigError(f"{section.name}.{key}", problem, source)
    crash = config.scenario.crash_device
    if crash and crash not in config.device_names():
        raise ConfigError("scenario.crash_device", f"no device named {crash!r} in this neighbourhood", source)


def _positive(obj: Any, *names: str) -> dict[str, str]:
    return {n: f"must be > 0, not {getattr(obj, n)}" for n in names if not getattr(obj, n) > 0}


def _not_negative(obj: Any, *names: str) -> dict[str, str]:
    return {n: f"must be >= 0, not {getattr(obj, n)}" for n in names if not getattr(obj, n) >= 0}


def _name(hint: Any) -> str:
    return {int: "an integer", float: "a number", str: "a string", bool: "true or false"}.get(hint, str(hint))


def _kind(value: Any) -> str:
    return {bool: "a boolean", int: "an integer", float: "a number", str: "a string", list: "a list",
            dict: "a table"}.get(type(value), type(value).__name__)
