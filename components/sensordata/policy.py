"""Who may read which device's history: provisioning (XEP-0324) or a documented local policy.

* ``--provisioning JID``: the provisioning server decides ``canRead`` for each device, as if the
  device itself were asked (``DelegatedGate``, wired in :mod:`.protocol`);
* ``--reader JID`` (repeatable), no provisioning: only these accounts may read any device;
* neither: the component refuses to start, unless ``--open-to-domain`` says explicitly that every
  account of the allowed domains may read every device (the audience of open measurement nodes).
"""

from __future__ import annotations

from collections.abc import Callable

from xmpp_iot.sensordata import LocalPolicyGate
from xmpp_iot.trust import TrustGate

__all__ = ["local_gate_for"]


def local_gate_for(readers: list[str]) -> Callable[[str], TrustGate | None] | None:
    """The gate factory of the local policy: one allow list for every device, or None (open)."""
    if not readers:
        return None
    gate = LocalPolicyGate(None, allow=readers, roster=False)
    return lambda _device: gate
