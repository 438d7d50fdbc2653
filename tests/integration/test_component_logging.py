"""Secrets stay out of component logs even at the most verbose --log-level."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from xmpp_iot.devserver.processes import ComponentProcess
from xmpp_iot.discovery import KEY, str_tag

pytestmark = pytest.mark.integration


async def test_debug_logging_never_writes_stanzas_with_their_keys(server_info, make_client, tmp_path: Path):
    jid = server_info.component_jid("scratch9")
    registry = ComponentProcess(
        "registry", server_info, jid=jid, db=tmp_path / "r.sqlite3", log_path=tmp_path / "r.log",
        extra_args=["--log-level", "DEBUG"],
    ).start()
    try:
        key = f"key-{uuid.uuid4().hex}"
        thing = await make_client("thing", registry="scratch9")
        await thing.discovery.register([str_tag("SN", uuid.uuid4().hex), str_tag(KEY, key)])
    finally:
        registry.stop()
    log = registry.log()
    assert "DEBUG" in log  # the level took effect ...
    assert key not in log  # ... but the KEY that came in the register stanza is not there
    assert server_info.components[jid] not in log
