"""Figure 10 in one script: a heat pump delegates trust to the provisioning server, its owner
allows a demand-response app (by certificate), the app befriends the heat pump, gets a token
and sets its output; a request without the token is refused.

Needs the registry and the provisioning server running (for example `./run demo`):

    python examples/control_with_token.py --server-info .../server-info.json
"""

from __future__ import annotations

import asyncio
import hashlib
import secrets

from _devserver import client, parser

import xmpp_iot.control.plugin
import xmpp_iot.provisioning.device  # noqa: F401 - registers iot_provisioning
from xmpp_iot.control.device import ControlDevice
from xmpp_iot.discovery import KEY, str_tag
from xmpp_iot.errors import ItemNotFound, ProtocolError
from xmpp_iot.provisioning import client as prov
from xmpp_iot.trust import Tokens


async def main() -> None:
    args = parser(__doc__).parse_args()
    pump = client(args.server_info, f"heatpump-{secrets.token_hex(3)}", secrets.token_urlsafe(12))
    owner = client(args.server_info, f"owner-{secrets.token_hex(3)}", secrets.token_urlsafe(12))
    app = client(args.server_info, f"dr-app-{secrets.token_hex(3)}", secrets.token_urlsafe(12))
    pump.xmpp.register_plugin("iot_provisioning")
    for c in (pump, app):
        c.xmpp.register_plugin("iot_control")
    async with pump, owner, app:
        server = str(await pump.xmpp.plugin["iot_provisioning"].find_server())
        print("heat pump trusts", server)
        output: list[int] = [0]
        controls = ControlDevice(title="Heat pump")
        controls.add_parameter("OutputPercent", "int", lambda v: output.__setitem__(0, v), lambda: output[0],
                               minimum=0, maximum=100)  # fmt: skip
        pump.xmpp.plugin["iot_control"].serve(controls, pump.xmpp.plugin["iot_provisioning"])

        # the owner claims the heat pump at the registry; the registry tells the provisioning server
        tags = [
            str_tag("SN", secrets.token_hex(4)),
            str_tag("CLASS", "HeatPump"),
            str_tag(KEY, secrets.token_hex(8)),
        ]
        await pump.discovery.find_registry()
        await pump.discovery.register(tags)
        await owner.discovery.find_registry()
        await owner.discovery.claim(tags)
        thing = pump.jid.bare
        for _ in range(50):
            try:
                await prov.list_rules(owner.xmpp, server, thing)
                break
            except ItemNotFound:
                await asyncio.sleep(0.2)

        cert, key = prov.self_signed_certificate("dr-app.dso.example")
        await prov.add_rule(owner.xmpp, server, thing, app.jid.bare, "friend")
        await prov.add_rule(owner.xmpp, server, thing, "cert:" + hashlib.sha256(cert).hexdigest(), "control",
                            names=["OutputPercent"])  # fmt: skip
        await prov.add_rule(
            owner.xmpp, server, thing, "*", "control", allow=False
        )  # nobody else; don't ask me
        print("owner allowed the app's certificate to set OutputPercent")

        await app.xmpp.get_roster()
        accepted = asyncio.get_running_loop().create_future()
        app.xmpp.add_event_handler("presence_subscribed", lambda p: accepted.done() or accepted.set_result(p))
        app.xmpp.send_presence(pto=thing, ptype="subscribe")
        await asyncio.wait_for(accepted, 15)
        print("the heat pump accepted the app as a friend (isFriend)")

        token = await prov.get_token(app.xmpp, server, cert, key)
        print("the app proved its certificate and got a token")
        await app.xmpp.plugin["iot_control"].set(
            pump.jid, {"OutputPercent": 40}, tokens=Tokens(service=token)
        )
        print("set OutputPercent=40 with the token (canControl said yes): output is now", output[0])
        try:
            await app.xmpp.plugin["iot_control"].set(pump.jid, {"OutputPercent": 90})
        except ProtocolError as exc:
            print("without the token:", exc.condition, "- output is still", output[0])


if __name__ == "__main__":
    asyncio.run(main())
