"""An EFI appliance driver: a heat pump with a 200 l buffer tank (EFI storage category).

It publishes its registration, system description and tank state to its node ``efi/<its JID>``,
then follows instructions from an energy app: each is ACCEPTED, STARTED (the compressor switches)
and SUCCEEDED. The node is created by the provisioning server; run energy_app.py with the JID printed.
A driver trusts nobody by default: only the accounts given with --allow may instruct it (a device with
delegated trust passes its provisioning client as ``trust=`` instead, see docs/efi-binding.md).

    python examples/efi_driver.py --server-info .../server-info.json --allow energyapp-1@localhost \
        [--user heatpump-1] [--instructions 1]
"""

from __future__ import annotations

import asyncio
import secrets
from datetime import UTC, datetime

from _devserver import client, parser

from xmpp_iot.efi import InstructionStatus, StorageInstruction
from xmpp_iot.efi import samples as s
from xmpp_iot.efi.binding import EfiDriver
from xmpp_iot.errors import ItemNotFound

RESOURCE = "heatpump-buffer"


async def main() -> None:
    p = parser(__doc__)
    p.add_argument("--user", default=f"heatpump-{secrets.token_hex(3)}", help="account name of the device")
    p.add_argument("--instructions", type=int, default=0, help="exit after this many (0: run until Ctrl-C)")
    p.add_argument("--allow", action="append", default=[], metavar="JID",
                   help="an energy app account that may instruct this device (repeatable)")
    args = p.parse_args()
    now = datetime.now(UTC)
    async with client(args.server_info, args.user, secrets.token_urlsafe(12)) as device:
        driver = EfiDriver(device, s.heat_pump_registration(RESOURCE, now), allow=args.allow)
        try:
            await driver.start()
        except ItemNotFound:
            raise SystemExit(f"no node {driver.node}: the provisioning server creates it for this device") from None
        temperature, running, serial = 38.5, False, 1
        await driver.publish(s.heat_pump_system(RESOURCE, now, "sys-1"))
        await driver.publish(s.heat_pump_status(RESOURCE, now, f"st-{serial}", temperature))
        print(f"driver {device.jid} ready: buffer at {temperature} °C", flush=True)
        done = 0
        async for instruction in driver.instructions():
            assert isinstance(instruction, StorageInstruction)
            mode = instruction.actuator_instructions[0].running_mode_id
            print(f"instruction {instruction.instruction_id}: running mode {mode}", flush=True)
            await driver.report(instruction.instruction_id, InstructionStatus.ACCEPTED)
            await driver.report(instruction.instruction_id, InstructionStatus.STARTED)
            running, serial = mode == s.HEAT_PUMP_ON, serial + 1
            t = datetime.now(UTC)
            await driver.publish(s.heat_pump_status(RESOURCE, t, f"st-{serial}", temperature, running=running))
            await driver.publish(s.heat_pump_measurement(RESOURCE, t, 1800.0 if running else 0.0, temperature))
            await asyncio.sleep(0.2)  # the compressor runs
            temperature += 0.5 if running else -0.1
            await driver.report(instruction.instruction_id, InstructionStatus.SUCCEEDED)
            print(f"instruction {instruction.instruction_id}: SUCCEEDED, buffer at {temperature} °C", flush=True)
            done += 1
            if done == args.instructions:
                break
        await asyncio.sleep(0.2)  # let the last status reach the app


if __name__ == "__main__":
    asyncio.run(main())
