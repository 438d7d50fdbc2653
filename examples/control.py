"""XEP-0325 control: an application fetches a dimmer's control form and sets parameters.

Both run in this one process (two XMPP accounts) so the example is self-contained:

    python examples/control.py --server-info /tmp/xmpp-iot-*/server-info.json
"""

from __future__ import annotations

import asyncio
import secrets

from _devserver import client, parser

import xmpp_iot.control  # noqa: F401  (registers the iot_control plugin)
from xmpp_iot.control import Color, ControlDevice
from xmpp_iot.errors import BadRequest
from xmpp_iot.sensordata import LocalPolicyGate


class Dimmer:
    """Stands in for the hardware driver."""

    def __init__(self) -> None:
        self.fade_ms = 300
        self.percent = 100
        self.on = True
        self.colour = Color(0xFF, 0xFF, 0xFF)

    def apply(self, what: str, value: object) -> None:
        setattr(self, what, value)
        print(f"  [dimmer] {what} -> {value}")


def declare_parameters(controls: ControlDevice, dimmer: Dimmer) -> None:
    """In the order they must be applied (fade time before the level), as XEP-0325 §3.2 asks."""
    controls.add_parameter("FadeTimeMilliseconds", "int", write=lambda v: dimmer.apply("fade_ms", v),
                           read=lambda: dimmer.fade_ms, minimum=0, maximum=4095, label="Fade time (ms)",
                           page="Output")
    controls.add_parameter("OutputPercent", "int", write=lambda v: dimmer.apply("percent", v),
                           read=lambda: dimmer.percent, minimum=0, maximum=100, label="Output (%)", page="Output")
    controls.add_parameter("MainSwitch", "boolean", write=lambda v: dimmer.apply("on", v), read=lambda: dimmer.on,
                           page="Output")
    controls.add_parameter("Colour", "color", write=lambda v: dimmer.apply("colour", v),
                           read=lambda: dimmer.colour)


async def main() -> None:
    args = parser(__doc__).parse_args()
    tag = secrets.token_hex(3)
    device = client(args.server_info, f"dimmer-{tag}", secrets.token_urlsafe(12))
    app = client(args.server_info, f"app-{tag}", secrets.token_urlsafe(12))
    async with device, app:
        for c in (device, app):
            c.xmpp.register_plugin("iot_control")
        dimmer = Dimmer()
        controls = ControlDevice(title="Dimmer")
        declare_parameters(controls, dimmer)
        device.xmpp.plugin["iot_control"].serve(controls, LocalPolicyGate(device.xmpp, allow=[app.jid.bare]))

        ctl = app.xmpp.plugin["iot_control"]
        form = await ctl.get_form(device.jid)
        for p in form.values():
            bounds = f" [{p.minimum}..{p.maximum}]" if p.minimum is not None else ""
            print(f"parameter {p.name}: {p.type}{bounds} = {p.value}")
        await ctl.set(device.jid, {"FadeTimeMilliseconds": 500, "OutputPercent": 10})
        print("set FadeTimeMilliseconds=500, OutputPercent=10")
        try:
            await ctl.set(device.jid, {"MainSwitch": False, "OutputPercent": 200})
        except BadRequest as exc:
            print(f"refused, nothing changed: {exc.text}")
        await ctl.set(device.jid, {"Colour": Color(0x33, 0x99, 0xFF)}, message=True)  # fire and forget
        await asyncio.sleep(0.5)
        print(f"dimmer now: on={dimmer.on} percent={dimmer.percent} colour={dimmer.colour}")


if __name__ == "__main__":
    asyncio.run(main())
