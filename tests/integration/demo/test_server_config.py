"""`xmpp-iot server-config` output works on a real server: a Prosody configured with the snippet
lets the listed components create pub/sub nodes (and only them), and secrets stay off the
command line of the systemd unit."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from slixmpp import ComponentXMPP
from slixmpp.exceptions import IqError

from xmpp_iot.connection import start_session, stop_session
from xmpp_iot.devserver.prosody import ProsodyServer
from xmpp_iot.server_config import Component, prosody_snippet

pytestmark = pytest.mark.integration


class SnippetProsody(ProsodyServer):
    """The dev server's Prosody, but pub/sub owners and components come from the snippet alone."""

    def write_config(self) -> None:
        super().write_config()
        text = self.config_path.read_text()
        text = re.sub(r"^admins = .*$", f'admins = {{ "admin@{self.domain}" }}', text, flags=re.M)
        text = text.split(f'Component "pubsub.{self.domain}"')[0]  # drop the dev server's sections
        components = [Component(jid.split(".")[0], self.domain, self.ports.component, secret)
                      for jid, secret in self.component_secrets.items() if not jid.startswith("outsider.")]
        snippet = prosody_snippet(self.domain, components)
        # the global lines of the snippet are already in the dev config: keep its Component sections
        sections = snippet[snippet.index("Component "):]
        outsider = f"outsider.{self.domain}"
        sections += f'\nComponent "{outsider}"\n  component_secret = "{self.component_secrets[outsider]}"\n'
        self.config_path.write_text(text + "\n" + sections)


async def _create_node(info, jid: str, secret: str, node: str) -> str:
    xmpp = ComponentXMPP(jid, secret, info.host, info.port_for(jid))
    xmpp.register_plugin("xep_0060")
    await start_session(xmpp, timeout=10)
    try:
        await xmpp.plugin["xep_0060"].create_node(info.pubsub_jid, node, ifrom=jid, timeout=10)
        return "ok"
    except IqError as exc:
        return exc.iq["error"]["condition"]
    finally:
        await stop_session(xmpp)


async def test_prosody_snippet_lets_listed_components_create_nodes(tmp_path: Path) -> None:
    server = SnippetProsody(tmp_path / "prosody", components=("registry", "provisioning", "outsider"))
    info = server.start(timeout=30)
    try:
        assert await _create_node(info, "provisioning.localhost", info.secret("provisioning"), "meas/x@localhost") == "ok"
        # the control: a component that is not in the snippet's admins is refused
        # (Prosody 0.12 answers feature-not-implemented or forbidden, depending on the actor)
        assert await _create_node(info, "outsider.localhost", info.secret("outsider"), "meas/y@localhost") in (
            "forbidden", "feature-not-implemented")
    finally:
        server.stop()


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "xmpp_iot.cli", "server-config", *args], capture_output=True,
                          text=True, timeout=30)


def test_secrets_go_to_0600_env_files_and_are_reused(tmp_path: Path) -> None:
    first = run_cli("--kind", "ejabberd", "--domain", "dso.example", "--component", "registry",
                    "--component", "provisioning", "--secrets-dir", str(tmp_path))
    assert first.returncode == 0, first.stderr
    env = tmp_path / "registry.env"
    assert env.stat().st_mode & 0o777 == 0o600
    secret = env.read_text().strip().split("=", 1)[1]
    assert f'password: "{secret}"' in first.stdout
    assert "port: 5347" in first.stdout and "port: 5348" in first.stdout  # one listener each
    again = run_cli("--kind", "ejabberd", "--domain", "dso.example", "--component", "registry",
                    "--secrets-dir", str(tmp_path))
    assert f'password: "{secret}"' in again.stdout


def test_systemd_unit_reads_the_secret_from_its_environment_file() -> None:
    result = run_cli("--systemd", "registry", "--domain", "dso.example", "--server", "127.0.0.1:5347")
    assert result.returncode == 0, result.stderr
    unit = result.stdout
    assert "EnvironmentFile=/etc/xmpp-iot/registry.env" in unit
    exec_start = next(line for line in unit.splitlines() if line.startswith("ExecStart="))
    assert "--jid registry.dso.example" in exec_start and "--server 127.0.0.1:5347" in exec_start
    assert "SECRET" not in exec_start and "password" not in exec_start.lower()
    assert "RestartPreventExitStatus=2" in unit


@pytest.mark.parametrize("args, message", [
    (("--kind", "prosody", "--domain", "not a domain"), "is not a domain name"),
    (("--domain", "dso.example"), "give either --kind"),
    (("--kind", "prosody", "--domain", "dso.example", "--component", "Bad_Name"), "use lower-case"),
    (("--systemd", "registry", "--domain", "dso.example", "--server", "nohost"), "expected HOST:PORT"),
])
def test_bad_arguments_are_explained(args: tuple[str, ...], message: str) -> None:
    result = run_cli(*args)
    assert result.returncode == 2
    assert message in result.stderr


def test_systemd_units_wire_the_components_to_each_other() -> None:
    """The units start each component with the same flags the dev server and the demo use."""
    provisioning = run_cli("--systemd", "provisioning", "--domain", "dso.example", "--admin", "ops@dso.example")
    registry = run_cli("--systemd", "registry", "--domain", "dso.example")
    historian = run_cli("--systemd", "sensordata", "--domain", "dso.example")
    exec_line = {name: next(line for line in r.stdout.splitlines() if line.startswith("ExecStart="))
                 for name, r in (("provisioning", provisioning), ("registry", registry), ("sensordata", historian))}
    assert "--registry registry.dso.example" in exec_line["provisioning"]
    assert "--pubsub pubsub.dso.example" in exec_line["provisioning"]
    assert "--trusted-service sensordata.dso.example" in exec_line["provisioning"]
    assert "--admin ops@dso.example" in exec_line["provisioning"]
    assert "--provisioning provisioning.dso.example" in exec_line["registry"]
    assert "--provisioning provisioning.dso.example" in exec_line["sensordata"]
