"""The `xmpp-iot` command: one entry point for every process of the suite."""

from __future__ import annotations

import argparse
import importlib
import sys

# subcommand -> (module with add_arguments/run, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "registry": ("components.registry.main", "run the Thing registry component (XEP-0347)"),
    "provisioning": ("provisioning.main", "run the provisioning server component (XEP-0324)"),
    "sensordata": ("components.sensordata.main", "run the sensor-data (historian) component (XEP-0323)"),
    "devserver": ("xmpp_iot.devserver.cli", "run a throwaway Prosody or ejabberd on loopback"),
    "server-config": ("xmpp_iot.server_config", "print ejabberd/Prosody config snippets and systemd units"),
    "demo": ("xmpp_iot.demo.cli", "run the demo neighbourhood: server, components, devices, apps"),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="xmpp-iot",
        description="Open XMPP Internet-of-Things suite: registry, provisioning, sensor data, EFI payloads.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, (module_name, help_text) in COMMANDS.items():
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:  # a command still under construction
            if exc.name is None or not module_name.startswith(exc.name):
                raise
            continue
        p = sub.add_parser(name, help=help_text, description=help_text)
        module.add_arguments(p)
        p.set_defaults(_run=module.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args._run(args)


if __name__ == "__main__":
    sys.exit(main())
