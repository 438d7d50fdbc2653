"""XEP-0325 Control (v0.5.1, ``urn:xmpp:iot:control``): typed parameters, validation, forms, set.

- :mod:`.model`: :class:`Parameter` (declaration + validation), :class:`ParameterValue`, :class:`Color`,
  :class:`ParamError`;
- :mod:`.device`: :class:`ControlDevice`, validate-all-then-apply with rollback;
- :mod:`.form`: the XEP-0004 control form with XEP-0122 validation and XEP-0336 ``notSame``;
- :mod:`.plugin`: slixmpp plugin ``iot_control`` (``serve`` on devices, ``set``/``get_form`` in apps).
"""

from .device import ControlDevice, Write
from .form import ParameterInfo
from .model import NS, PARAMETER_TYPES, Color, ParamError, Parameter, ParameterValue, UnknownParameter
from .plugin import XEP_0325, SetResult

__all__ = [
    "NS",
    "PARAMETER_TYPES",
    "XEP_0325",
    "Color",
    "ControlDevice",
    "ParamError",
    "Parameter",
    "ParameterInfo",
    "ParameterValue",
    "SetResult",
    "UnknownParameter",
    "Write",
]
