"""Enumerations of EFI 2.0, with the wire value of each member as its ``value``."""

from __future__ import annotations

import enum

__all__ = ["Commodity", "Currency", "CurtailmentQuantity", "DeviceClass", "InstructionStatus"]


class Commodity(enum.Enum):
    """Energy carrier a device consumes or produces."""

    ELECTRICITY = "ELECTRICITY"
    GAS = "GAS"
    HEAT = "HEAT"


class CurtailmentQuantity(enum.Enum):
    """Quantity a curtailment limits, with its unit: W, m3/s, degrees Celsius, m3/s, W."""

    ELECTRICITY_POWER = "ELECTRICITY.POWER"
    GAS_FLOWRATE = "GAS.FLOWRATE"
    HEAT_TEMPERATURE = "HEAT.TEMPERATURE"
    HEAT_FLOWRATE = "HEAT.FLOWRATE"
    HEAT_THERMALPOWER = "HEAT.THERMALPOWER"

    @property
    def unit(self) -> str:
        """SI unit of the curtailed quantity (what ``value`` and the ranges are expressed in)."""
        return _CURTAILMENT_UNITS[self]


_CURTAILMENT_UNITS = {
    CurtailmentQuantity.ELECTRICITY_POWER: "W",
    CurtailmentQuantity.GAS_FLOWRATE: "m3/s",
    CurtailmentQuantity.HEAT_TEMPERATURE: "Cel",
    CurtailmentQuantity.HEAT_FLOWRATE: "m3/s",
    CurtailmentQuantity.HEAT_THERMALPOWER: "W",
}


class InstructionStatus(enum.Enum):
    """Execution status a Resource Manager reports for an Instruction (see :mod:`.status`)."""

    ACCEPTED = "ACCEPTED"
    STARTED = "STARTED"
    SUCCEEDED = "SUCCEEDED"
    REJECTED = "REJECTED"
    ABORTED = "ABORTED"


class DeviceClass(enum.Enum):
    """Informational class of the managed device. ``GAS_HEATER``'s wire value keeps FAN's typo."""

    REFRIGERATOR = "Refrigerator"
    FREEZER = "Freezer"
    WATER_COOLER = "Water Cooler"
    WATER_HEATER = "Water Heater"
    WASHING_MACHINE = "Washing Machine"
    CLOTHES_DRYER = "Clothes Dryer"
    COMBO_WASHER_DRYER = "Combo Washer Dryer"
    DRYING_CABINET = "Drying Cabinet"
    DISHWASHER = "Dishwasher"
    HEATPUMP = "Heatpump"
    MICRO_CHP = "Micro-CHP"
    STATIONARY_BATTERY = "Stationary Battery"
    ELECTRICAL_VEHICLE = "Electrical Vehicle"
    PV_PANEL = "PV Panel"
    WINDMILL = "Windmill"
    SOLAR_COLLECTOR = "Solar Collector"
    AIR_CONDITIONER = "Air Conditioner"
    VENTILATION = "Ventilation"
    AIR_QUALITY_APPLIANCE = "Air Quality Appliance"
    GAS_HEATER = "Gas Geater"
    FLOOR_HEATING = "Floor Heating"
    GENERATOR = "Generator"
    MISCELLANEOUS = "Miscellaneous"


class Currency(enum.Enum):
    """ISO 4217 codes that EFI 2.0 accepts.

    FAN's list is incomplete (it skips most codes between CHW and LBP, e.g. DKK, JPY, CNY); a code
    outside it would be rejected by every FAN implementation, so the enum keeps exactly FAN's list.
    """

    AED = "AED"
    ANG = "ANG"
    AUD = "AUD"
    CHE = "CHE"
    CHF = "CHF"
    CHW = "CHW"
    EUR = "EUR"
    GBP = "GBP"
    LBP = "LBP"
    LKR = "LKR"
    LRD = "LRD"
    LSL = "LSL"
    LYD = "LYD"
    MAD = "MAD"
    MDL = "MDL"
    MGA = "MGA"
    MKD = "MKD"
    MMK = "MMK"
    MNT = "MNT"
    MOP = "MOP"
    MRO = "MRO"
    MUR = "MUR"
    MVR = "MVR"
    MWK = "MWK"
    MXN = "MXN"
    MXV = "MXV"
    MYR = "MYR"
    MZN = "MZN"
    NAD = "NAD"
    NGN = "NGN"
    NIO = "NIO"
    NOK = "NOK"
    NPR = "NPR"
    NZD = "NZD"
    OMR = "OMR"
    PAB = "PAB"
    PEN = "PEN"
    PGK = "PGK"
    PHP = "PHP"
    PKR = "PKR"
    PLN = "PLN"
    PYG = "PYG"
    QAR = "QAR"
    RON = "RON"
    RSD = "RSD"
    RUB = "RUB"
    RWF = "RWF"
    SAR = "SAR"
    SBD = "SBD"
    SCR = "SCR"
    SDG = "SDG"
    SEK = "SEK"
    SGD = "SGD"
    SHP = "SHP"
    SLL = "SLL"
    SOS = "SOS"
    SRD = "SRD"
    SSP = "SSP"
    STD = "STD"
    SYP = "SYP"
    SZL = "SZL"
    THB = "THB"
    TJS = "TJS"
    TMT = "TMT"
    TND = "TND"
    TOP = "TOP"
    TRY = "TRY"
    TTD = "TTD"
    TWD = "TWD"
    TZS = "TZS"
    UAH = "UAH"
    UGX = "UGX"
    USD = "USD"
    USN = "USN"
    UYI = "UYI"
    UYU = "UYU"
    UZS = "UZS"
    VEF = "VEF"
    VND = "VND"
    VUV = "VUV"
    WST = "WST"
    XAG = "XAG"
    XAU = "XAU"
    XBA = "XBA"
    XBB = "XBB"
    XBC = "XBC"
    XBD = "XBD"
    XCD = "XCD"
    XOF = "XOF"
    XPD = "XPD"
    XPF = "XPF"
    XPT = "XPT"
    XSU = "XSU"
    XTS = "XTS"
    XUA = "XUA"
    XXX = "XXX"
    YER = "YER"
    ZAR = "ZAR"
    ZMW = "ZMW"
    ZWL = "ZWL"
