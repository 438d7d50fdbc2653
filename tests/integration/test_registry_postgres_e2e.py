"""`xmpp-iot registry --db postgresql://...`: the same flows and the same crash safety on PostgreSQL.

Uses the throwaway PostgreSQL of tests/unit/test_registry_postgres.py (skipped without one).
"""

from __future__ import annotations

import pytest

from tests.unit.test_registry_postgres import new_database, postgres_server  # noqa: F401 - fixtures
from xmpp_iot.devserver.processes import ComponentProcess
from xmpp_iot.discovery import KEY, eq, str_tag

pytestmark = pytest.mark.integration


@pytest.fixture
def postgres_url(new_database) -> str:  # noqa: F811 - the imported fixture
    return new_database()


async def test_registry_on_postgres_keeps_acknowledged_writes_across_sigkill(
    server_info, make_client, postgres_url, tmp_path
):
    url = postgres_url
    registry = server_info.component_jid("scratch3")
    process = ComponentProcess("registry", server_info, jid=registry, db=url, log_path=tmp_path / "reg.log")
    process.start()
    try:
        thing = await make_client("thing", registry="scratch3")
        await thing.discovery.find_registry()
        tags = [str_tag("SN", thing.jid.user), str_tag("CLASS", "Meter"), str_tag(KEY, "k-" + thing.jid.user)]
        assert await thing.discovery.register(tags) is None
        owner = await make_client("owner", registry="scratch3")
        await owner.discovery.find_registry()
        await owner.discovery.claim(tags, public=False)
        await owner.discovery.update([str_tag("ROOM", "cellar")], jid=thing.jid.bare)
        process.kill()
        process.start()
        page = await owner.discovery.search([eq("SN", thing.jid.user)])
        assert [(t.jid, t.owner, t.tags["ROOM"].value) for t in page.things] == [
            (thing.jid.bare, owner.jid.bare, "cellar")
        ]
        stranger = await make_client("stranger", registry="scratch3")
        await stranger.discovery.find_registry()
        assert (await stranger.discovery.search([eq("SN", thing.jid.user)])).things == []  # private
        assert await thing.discovery.register(tags) == owner.jid.bare  # still claimed
        assert "postgresql://" in process.log() and "things in" in process.log()
    finally:
        process.stop()
