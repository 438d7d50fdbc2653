"""EFI 2.0 over XMPP: our binding (docs/efi-binding.md) and its API for both ends.

* :class:`EfiDriver` — the appliance driver (EFI Resource Manager): publishes its registration,
  flexibility updates, instruction status updates and EFI measurements to its node ``efi/<bare jid>``,
  receives instructions and revokes as IQ set.
* :class:`EnergyApp` — the energy app (EFI CEM): follows devices' nodes, gets typed messages, sends
  instructions and revokes, follows instruction status.
"""

from .app import DeviceView, EnergyApp, FlexibilityEvent
from .driver import EfiDriver, EfiIqMatcher
from .protocol import BINDING_NS, DEFAULT_MAX_PAYLOAD, FEATURES, category_feature, item_id, stanza_error

__all__ = [
    "BINDING_NS",
    "DEFAULT_MAX_PAYLOAD",
    "FEATURES",
    "DeviceView",
    "EfiDriver",
    "EfiIqMatcher",
    "EnergyApp",
    "FlexibilityEvent",
    "category_feature",
    "item_id",
    "stanza_error",
]
