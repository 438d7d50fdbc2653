"""Units of EFI 2.0 values, as type aliases so that signatures say what a float means.

Sign convention (specification, chapters 4-7): consumption is positive, production negative.
"""

from __future__ import annotations

from typing import TypeAlias

__all__ = ["CubicMetresPerSecond", "DegreesCelsius", "FillLevel", "FillLevelPerSecond", "Watt"]

#: electric or thermal power in W; consumption positive, production negative
Watt: TypeAlias = float
#: gas or heat flow rate in m3/s; consumption positive
CubicMetresPerSecond: TypeAlias = float
#: temperature in degrees Celsius
DegreesCelsius: TypeAlias = float
#: storage fill level in the registration's fillLevelUnit (e.g. "Degrees Celsius", "kWh", "%")
FillLevel: TypeAlias = float
#: change of the fill level per second (filling, usage and leakage rates)
FillLevelPerSecond: TypeAlias = float
