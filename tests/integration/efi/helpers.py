"""Set-up shared by the EFI end-to-end tests: a driver with its node, an app following it."""

from __future__ import annotations

from xmpp_iot.efi import FlexibilityRegistration
from xmpp_iot.efi.binding import EfiDriver, EnergyApp
from xmpp_iot.nodes import flexibility_node


async def driver_and_app(make_client, node_admin, registration: FlexibilityRegistration, *updates,
                         follow: bool = True, **driver_options) -> tuple[EfiDriver, EnergyApp]:
    """A started driver that published ``registration`` and ``updates``, and an app following it.

    Unless ``driver_options`` name a trust policy, the driver allows exactly the app's JID."""
    device = await make_client("device")
    app_client = await make_client("app")
    await node_admin.create(flexibility_node(device.jid), device)
    if not {"authorize", "trust", "allow"} & driver_options.keys():
        driver_options["allow"] = [app_client.jid.bare]
    driver = EfiDriver(device, registration, **driver_options)
    await driver.start()
    for update in updates:
        await driver.publish(update)
    app = EnergyApp(app_client)
    if follow:
        await app.follow(device.jid)
    return driver, app
