"""An EFI energy app: follows a heat pump's flexibility and switches it on when its buffer is cold.

It subscribes to the device's node, catches up with its registration, system description and
state, sends one StorageInstruction (IQ set to the driver) and follows the instruction's status
until it has succeeded.

    python examples/energy_app.py --server-info .../server-info.json --user energyapp-1 heatpump-1@localhost

The driver must allow this account (efi_driver.py --allow energyapp-1@localhost).
"""

from __future__ import annotations

import asyncio
import secrets
from datetime import UTC, datetime

from _devserver import client, parser

from xmpp_iot.efi import InstructionStatus, StorageStatus
from xmpp_iot.efi import samples as s
from xmpp_iot.efi.binding import EnergyApp


async def main() -> None:
    p = parser(__doc__)
    p.add_argument("device", help="bare JID of the heat pump")
    p.add_argument("--user", default=f"energyapp-{secrets.token_hex(3)}", help="account name of the app")
    p.add_argument("--below", type=float, default=40.0, help="switch on below this buffer temperature (°C)")
    args = p.parse_args()
    async with client(args.server_info, args.user, secrets.token_urlsafe(12)) as me:
        app = EnergyApp(me)
        app.on_event(lambda e: print(f"{e.device}: {e.message.TAG}", getattr(e.message, "status", ""), flush=True))
        view = await app.follow(args.device)
        await app.wait_until(lambda: view.registration is not None and "StorageStatus" in view.updates, 30)
        state = view.updates["StorageStatus"]
        assert isinstance(state, StorageStatus)
        print(f"{view.registration.device_description.label}: buffer at {state.current_fill_level} "
              f"{view.registration.fill_level_unit}", flush=True)
        if state.current_fill_level >= args.below:
            print("warm enough; nothing to do")
            return
        instruction = s.heat_pump_instruction(view.resource_id, datetime.now(UTC), f"on-{secrets.token_hex(3)}",
                                              state.flexibility_update_id, mode=s.HEAT_PUMP_ON)
        await app.instruct(instruction)
        print(f"instruction {instruction.instruction_id} acknowledged by {view.driver}", flush=True)
        await app.wait_status(args.device, instruction.instruction_id, InstructionStatus.SUCCEEDED, 30)
        print(f"instruction {instruction.instruction_id} SUCCEEDED", flush=True)


if __name__ == "__main__":
    asyncio.run(main())
