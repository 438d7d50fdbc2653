"""canAccess / hasPrivilege / downloadPrivileges: dotted privilege ids, ordered include/exclude."""

from __future__ import annotations

from xmpp_iot.errors import BadRequest, Forbidden
from xmpp_iot.provisioning import client as prov

from ...helpers import error_of
from .conftest import ADMIN


async def test_service_user_privileges(own_provisioning, make_client) -> None:
    server = own_provisioning.jid
    admin = await make_client("admin", user=ADMIN, password="admin-pw")
    service, kermit, piggy = await make_client("svc"), await make_client("kermit"), await make_client("piggy")
    cert, key = prov.self_signed_certificate("svc.dso.example")
    service_token = await prov.get_token(service.xmpp, server, cert, key)
    assert (
        await prov.set_privileges(
            admin.xmpp,
            server,
            service.jid.bare,
            kermit.jid.bare,
            ["-Sensors.Delete", "+Sensors", "-Sensors.View"],
        )
        == 3
    )

    user_token = await prov.can_access(service.xmpp, server, service_token, kermit.jid.bare)
    assert user_token
    assert await prov.can_access(service.xmpp, server, service_token, piggy.jid.bare) is None

    async def has(privilege: str) -> bool:
        return await prov.has_privilege(service.xmpp, server, service_token, user_token, privilege)

    assert await has("Sensors") and await has("Sensors.View") and await has("Sensors.Edit.Name")
    assert not await has("Sensors.Delete") and not await has("Sensors.Delete.All")
    assert not await has("Actuators") and not await has("SensorsX")
    assert await prov.download_privileges(service.xmpp, server, service_token, user_token) == [
        (False, "Sensors.Delete"),
        (True, "Sensors"),
        (False, "Sensors.View"),
    ]

    # bad input: forged service token, a user token shown by another service, non-admin, bad ids
    assert isinstance(
        await error_of(prov.has_privilege(service.xmpp, server, "junk", user_token, "Sensors")), Forbidden
    )
    assert isinstance(
        await error_of(prov.has_privilege(piggy.xmpp, server, service_token, user_token, "Sensors")),
        Forbidden,
    )
    assert isinstance(
        await error_of(
            prov.set_privileges(kermit.xmpp, server, service.jid.bare, kermit.jid.bare, ["+Everything"])
        ),
        Forbidden,
    )
    assert isinstance(
        await error_of(
            prov.set_privileges(admin.xmpp, server, service.jid.bare, kermit.jid.bare, ["+Sensors..View"])
        ),
        BadRequest,
    )
    assert await has("Sensors")  # nothing changed
