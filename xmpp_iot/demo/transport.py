"""The demo's XMPP plumbing that the public library does not (yet) offer: the wiring point.

Devices publish with :class:`xmpp_iot.pubsub.PubSub` and take instructions through
:class:`xmpp_iot.efi.binding.EfiDriver`; apps subscribe with ``PubSub`` and instruct through
:class:`xmpp_iot.efi.binding.EnergyApp`. What remains here is :func:`create_node`, the DSO's node
set-up. WIRING POINT: the provisioning server (XEP-0324) is meant to create ``meas/``, ``efi/`` and
``alarms/`` nodes when a thing is claimed; until it does, the demo's DSO account creates them and
makes the device their publisher.
"""

from __future__ import annotations

import logging

from slixmpp.exceptions import IqError, IqTimeout

from ..client import IotClient
from ..errors import from_iq_error

log = logging.getLogger(__name__)

__all__ = ["create_node"]


async def create_node(client: IotClient, service: str, node: str, publishers: tuple[str, ...] = ()) -> bool:
    """Create a node and make ``publishers`` its publishers; False if someone else owns it.

    A node that exists already was most likely created by the provisioning server when the
    thing was claimed: then it sets the publishers, and a refusal to let us change them is fine.
    """
    pubsub = client.xmpp.plugin["xep_0060"]
    created = True
    try:
        await pubsub.create_node(service, node, timeout=15)
    except IqError as exc:
        if exc.iq["error"]["condition"] != "conflict":
            raise from_iq_error(exc) from None
        created = False
    except IqTimeout as exc:
        raise from_iq_error(exc) from None
    if publishers:
        try:
            await pubsub.modify_affiliations(
                service, node, affiliations=[(p, "publisher") for p in publishers], timeout=15
            )
        except IqError as exc:
            if created or exc.iq["error"]["condition"] not in ("forbidden", "not-allowed", "item-not-found"):
                raise from_iq_error(exc) from None
            log.info("%s exists and belongs to someone else; leaving its publishers to its owner", node)
            return False
        except IqTimeout as exc:
            raise from_iq_error(exc) from None
    return True
