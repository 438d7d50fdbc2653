"""XEP-0324 Internet of Things - Provisioning: wire format, device plugin, token and owner helpers.

Importing `xmpp_iot.provisioning.device` registers the slixmpp plugin `iot_provisioning`
(the device's :class:`xmpp_iot.trust.TrustGate`); `xmpp_iot.provisioning.client` has the
getToken flow, the token-challenge answerer and the owner's rule commands.
"""

from .stanza import NS

__all__ = ["NS"]
