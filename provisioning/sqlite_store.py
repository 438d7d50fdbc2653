"""SQLite implementation of the provisioning store: one file, WAL, each write committed
before the caller answers, so an acknowledged rule or token survives a SIGKILL.

The file holds the token signing key (unless --signing-key is given), so it and its -wal and
-shm files are made readable by the owner only (0600), whatever the umask.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from pathlib import Path

from xmpp_iot.discovery.model import NodeRef

from .rules import Rule
from .store import Challenge, IssuedToken, Ownership

SCHEMA = """
CREATE TABLE IF NOT EXISTS ownership (
    thing   TEXT PRIMARY KEY,
    owner   TEXT NOT NULL DEFAULT '',
    public  INTEGER NOT NULL DEFAULT 0,
    seq     INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS rules (
    id       INTEGER PRIMARY KEY,
    thing    TEXT NOT NULL,
    subject  TEXT NOT NULL,
    action   TEXT NOT NULL,
    allow    INTEGER NOT NULL,
    names    TEXT,
    nodes    TEXT,
    created  REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS rules_thing ON rules (thing);
CREATE TABLE IF NOT EXISTS challenges (
    seqnr    INTEGER PRIMARY KEY AUTOINCREMENT,
    holder   TEXT NOT NULL,
    cert     BLOB NOT NULL,
    nonce    BLOB NOT NULL,
    created  REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS tokens (
    jti        TEXT PRIMARY KEY,
    holder     TEXT NOT NULL,
    thumbprint TEXT NOT NULL,
    expires    REAL NOT NULL,
    revoked    INTEGER NOT NULL DEFAULT 0,
    cert       BLOB NOT NULL DEFAULT x''
);
CREATE INDEX IF NOT EXISTS tokens_holder ON tokens (holder);
CREATE TABLE IF NOT EXISTS token_uses (
    jti    TEXT NOT NULL,
    thing  TEXT NOT NULL,
    PRIMARY KEY (jti, thing)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS challenges_holder ON challenges (holder, seqnr);
CREATE TABLE IF NOT EXISTS settings (name TEXT PRIMARY KEY, value BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS pending (
    id      INTEGER PRIMARY KEY,
    thing   TEXT NOT NULL,
    kind    TEXT NOT NULL,
    jid     TEXT NOT NULL DEFAULT '',
    created REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS pending_thing ON pending (thing);
CREATE TABLE IF NOT EXISTS privileges (
    service   TEXT NOT NULL,
    user      TEXT NOT NULL,
    position  INTEGER NOT NULL,
    include   INTEGER NOT NULL,
    privilege TEXT NOT NULL,
    PRIMARY KEY (service, user, position)
);
PRAGMA user_version = 1;
"""


class SqliteProvisioningStore:
    """Provisioning state in one SQLite file."""

    def __init__(self, path: str | Path, *, synchronous: str = "FULL") -> None:
        self.path = str(path)
        # created 0600 before SQLite opens it: SQLite gives the -wal and -shm files the same mode
        os.close(os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600))
        self._owner_only()
        self.db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute(f"PRAGMA synchronous={synchronous}")
        self.db.execute("PRAGMA busy_timeout=5000")
        self.db.executescript(SCHEMA)
        self._owner_only()  # a database made by an older version, with a looser mode

    def _owner_only(self) -> None:
        for path in (self.path, self.path + "-wal", self.path + "-shm"):
            try:
                if os.stat(path).st_mode & 0o077:
                    os.chmod(path, 0o600)
            except FileNotFoundError:
                pass

    def close(self) -> None:
        self.db.close()

    # -- ownership ----------------------------------------------------------------------------
    def ownerships(self) -> list[Ownership]:
        rows = self.db.execute("SELECT thing, owner, public, seq FROM ownership").fetchall()
        return [Ownership(t, o, bool(p), s) for t, o, p, s in rows]

    def set_ownership(self, record: Ownership) -> bool:
        """Store if newer than what we have (highest seq wins); True if it changed anything."""
        cur = self.db.execute(
            "INSERT INTO ownership (thing, owner, public, seq) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (thing) DO UPDATE SET owner=excluded.owner, public=excluded.public, seq=excluded.seq "
            "WHERE excluded.seq > ownership.seq",
            (record.thing, record.owner, int(record.public), record.seq),
        )
        return cur.rowcount > 0

    # -- rules --------------------------------------------------------------------------------
    def rules(self) -> list[Rule]:
        rows = self.db.execute(
            "SELECT id, thing, subject, action, allow, names, nodes FROM rules ORDER BY id"
        )
        return [_rule(*row) for row in rows]

    def add_rule(self, rule: Rule) -> Rule:
        names = json.dumps(list(rule.names)) if rule.names is not None else None
        nodes = (
            json.dumps([[n.node_id, n.source_id, n.cache_type] for n in rule.nodes])
            if rule.nodes is not None
            else None
        )
        cur = self.db.execute(
            "INSERT INTO rules (thing, subject, action, allow, names, nodes, created) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (rule.thing, rule.subject, rule.action, int(rule.allow), names, nodes, time.time()),
        )
        return _rule(cur.lastrowid, rule.thing, rule.subject, rule.action, rule.allow, names, nodes)

    def add_rules(self, rules: list[Rule]) -> None:
        """Bulk load (benchmarks, imports) in one transaction."""
        with self.db:
            self.db.execute("BEGIN")
            self.db.executemany(
                "INSERT INTO rules (thing, subject, action, allow, names, nodes, created) VALUES (?,?,?,?,?,?,?)",
                [
                    (r.thing, r.subject, r.action, int(r.allow),
                     json.dumps(list(r.names)) if r.names is not None else None, None, time.time())
                    for r in rules
                ],
            )  # fmt: skip

    def remove_rules(self, ids: list[int]) -> None:
        self.db.executemany("DELETE FROM rules WHERE id = ?", [(i,) for i in ids])

    # -- challenges and tokens --------------------------------------------------------------------
    def add_challenge(self, holder: str, cert_der: bytes, nonce: bytes, keep: int = 5) -> int:
        """A new open challenge; the holder's oldest are dropped beyond `keep` (one transaction)."""
        with self.db:
            self.db.execute("BEGIN")
            self.db.execute("DELETE FROM challenges WHERE created < ?", (time.time() - 3600,))
            cur = self.db.execute(
                "INSERT INTO challenges (holder, cert, nonce, created) VALUES (?, ?, ?, ?)",
                (holder, cert_der, nonce, time.time()),
            )
            self.db.execute(
                "DELETE FROM challenges WHERE holder = ? AND seqnr NOT IN "
                "(SELECT seqnr FROM challenges WHERE holder = ? ORDER BY seqnr DESC LIMIT ?)",
                (holder, holder, max(1, keep)),
            )
        return int(cur.lastrowid)

    def take_challenge(self, seqnr: int, max_age: float) -> Challenge | None:
        """Remove and return a challenge: each is answered once (a replayed answer finds nothing)."""
        row = self.db.execute(
            "DELETE FROM challenges WHERE seqnr = ? RETURNING seqnr, holder, cert, nonce, created", (seqnr,)
        ).fetchone()
        if row is None or row[4] < time.time() - max_age:
            return None
        return Challenge(*row)

    def add_token(self, token: IssuedToken) -> None:
        self.db.execute(
            "INSERT INTO tokens (jti, holder, thumbprint, expires, revoked, cert) VALUES (?, ?, ?, ?, ?, ?)",
            (token.jti, token.holder, token.thumbprint, token.expires, int(token.revoked), token.cert_der),
        )

    def token(self, jti: str) -> IssuedToken | None:
        row = self.db.execute(
            "SELECT jti, holder, thumbprint, expires, revoked, cert FROM tokens WHERE jti = ?", (jti,)
        ).fetchone()
        return IssuedToken(row[0], row[1], row[2], row[3], bool(row[4]), row[5]) if row else None

    def revoke_token(self, jti: str) -> bool:
        return self.db.execute("UPDATE tokens SET revoked = 1 WHERE jti = ?", (jti,)).rowcount > 0

    def revoke_holder(self, holder: str) -> list[str]:
        rows = self.db.execute(
            "UPDATE tokens SET revoked = 1 WHERE holder = ? AND revoked = 0 RETURNING jti", (holder,)
        ).fetchall()
        return [r[0] for r in rows]

    def add_token_use(self, jti: str, thing: str) -> None:
        self.db.execute("INSERT OR IGNORE INTO token_uses (jti, thing) VALUES (?, ?)", (jti, thing))

    def take_token_uses(self, jtis: list[str]) -> set[str]:
        """The things that saw any of these tokens; forgotten now (they are told to clear their caches)."""
        things: set[str] = set()
        with self.db:
            self.db.execute("BEGIN")
            for jti in jtis:
                rows = self.db.execute("DELETE FROM token_uses WHERE jti = ? RETURNING thing", (jti,))
                things.update(row[0] for row in rows)
        return things

    # -- privileges (canAccess / hasPrivilege / downloadPrivileges) ----------------------------------
    def privileges(self, service: str, user: str) -> list[tuple[bool, str]]:
        rows = self.db.execute(
            "SELECT include, privilege FROM privileges WHERE service = ? AND user = ? ORDER BY position",
            (service, user),
        )
        return [(bool(i), p) for i, p in rows]

    def set_privileges(self, service: str, user: str, entries: list[tuple[bool, str]]) -> None:
        with self.db:
            self.db.execute("BEGIN")
            self.db.execute("DELETE FROM privileges WHERE service = ? AND user = ?", (service, user))
            self.db.executemany(
                "INSERT INTO privileges (service, user, position, include, privilege) VALUES (?, ?, ?, ?, ?)",
                [(service, user, n, int(inc), p) for n, (inc, p) in enumerate(entries)],
            )

    # -- settings -------------------------------------------------------------------------------
    def setting(self, name: str) -> bytes | None:
        row = self.db.execute("SELECT value FROM settings WHERE name = ?", (name,)).fetchone()
        return row[0] if row else None

    def set_setting(self, name: str, value: bytes) -> None:
        self.db.execute("INSERT OR REPLACE INTO settings (name, value) VALUES (?, ?)", (name, value))

    # -- pending pushes ----------------------------------------------------------------------------
    def add_pending(self, thing: str, kind: str, jid: str = "") -> None:
        if (
            kind == "clearCache"
            and self.db.execute(
                "SELECT 1 FROM pending WHERE thing = ? AND kind = 'clearCache'", (thing,)
            ).fetchone()
        ):
            return
        self.db.execute(
            "INSERT INTO pending (thing, kind, jid, created) VALUES (?, ?, ?, ?)",
            (thing, kind, jid, time.time()),
        )

    def pending(self, thing: str) -> list[tuple[int, str, str]]:
        return self.db.execute(
            "SELECT id, kind, jid FROM pending WHERE thing = ? ORDER BY id", (thing,)
        ).fetchall()

    def pending_things(self) -> set[str]:
        return {row[0] for row in self.db.execute("SELECT DISTINCT thing FROM pending")}

    def done_pending(self, ids: list[int]) -> None:
        self.db.executemany("DELETE FROM pending WHERE id = ?", [(i,) for i in ids])


def _rule(id_, thing, subject, action, allow, names, nodes) -> Rule:
    return Rule(
        thing=thing,
        subject=subject,
        action=action,
        allow=bool(allow),
        names=tuple(json.loads(names)) if names is not None else None,
        nodes=tuple(NodeRef(*n) for n in json.loads(nodes)) if nodes is not None else None,
        id=int(id_),
    )
