"""The provisioning service: who owns what, the owners' rules, and the answers they give.

No XMPP here. Decisions are synchronous lookups in memory (the store is read once at start
and written through on every change), so a canRead costs a dict lookup and a few set
operations. ``None`` from a decision means "no rule answers": the protocol layer then asks
the owner, and denies when nobody answers.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from slixmpp.jid import JID

from xmpp_iot.discovery.model import NodeRef
from xmpp_iot.errors import BadRequest, Forbidden, ItemNotFound
from xmpp_iot.trust import Tokens

from .rules import ACTIONS, Rule, Subset, bare_jid, decide_friend, decide_subset, subjects_of
from .store import Ownership, ProvisioningStore
from .tokens import TokenAuthority, TokenRefused

log = logging.getLogger(__name__)


@dataclass
class RulesChanged:
    """What a rule change means for a thing: clear its cache, and unfriend these JIDs."""

    thing: str
    unfriend: list[str] = field(default_factory=list)
    readers_gained: list[str] = field(default_factory=list)
    readers_lost: list[str] = field(default_factory=list)


class ProvisioningService:
    def __init__(
        self,
        store: ProvisioningStore,
        tokens: TokenAuthority,
        *,
        trusted_services: Iterable[str] = (),
        admins: Iterable[str] = (),
    ) -> None:
        self.store = store
        self.tokens = tokens
        self.trusted = {bare_jid(j) for j in trusted_services}
        self.admins = {bare_jid(j) for j in admins}
        self.owners: dict[str, Ownership] = {o.thing: o for o in store.ownerships()}
        self._rules: dict[str, list[Rule]] = defaultdict(list)
        # token id -> things that saw it; also in the store, so a revocation after a restart still
        # clears the caches of the devices that cached an answer resting on the token
        self._token_users: dict[str, set[str]] = defaultdict(set)
        for rule in store.rules():
            self._rules[rule.thing].append(rule)
        self.on_rules_changed: Callable[[RulesChanged], None] = lambda _change: None
        self.on_ownership_changed: Callable[[Ownership, Ownership | None], None] = lambda _new, _old: None

    def count(self) -> tuple[int, int]:
        return len(self.owners), sum(len(v) for v in self._rules.values())

    # -- ownership ---------------------------------------------------------------------------------
    def owner_of(self, thing: str) -> str:
        o = self.owners.get(JID(thing).bare)
        return o.owner if o else ""

    def set_ownership(self, record: Ownership) -> bool:
        """Apply a registry push; stale (lower seq) pushes change nothing."""
        old = self.owners.get(record.thing)
        if old is not None and record.seq <= old.seq:
            return False
        if not self.store.set_ownership(record):
            return False
        self.owners[record.thing] = record
        if old is None or old.owner != record.owner:
            log.info("%s is now owned by %s (seq %d)", record.thing, record.owner or "nobody", record.seq)
            if old is not None and old.owner:
                self._drop_rules(record.thing)  # a new (or no) owner starts from a clean slate
            self.on_ownership_changed(record, old)
        return True

    # -- decisions -----------------------------------------------------------------------------------
    def _privileged(self, thing: str, requester: str) -> bool:
        bare = JID(requester).bare
        return bare in self.trusted or (bool(self.owner_of(thing)) and bare == self.owner_of(thing))

    def _subjects(self, thing: str, requester: str, tokens: Tokens) -> set[str]:
        bare = JID(requester).bare
        certs: list[str] = []
        on_behalf_of: set[str] = set()
        for held in (tokens.service, tokens.device, tokens.user):
            for token in held.split():
                try:
                    claims = self.tokens.verify(token, bare)
                except TokenRefused as exc:
                    log.info("%s: token presented for %s refused: %s", thing, bare, exc)
                    continue
                if claims.thumbprint:
                    certs.append(claims.thumbprint)
                if claims.holder != bare:  # a user token the service presents: the user's rules count too
                    on_behalf_of.add(claims.holder)
                if thing not in self._token_users[claims.jti]:  # one write per token and thing
                    self.store.add_token_use(claims.jti, thing)
                    self._token_users[claims.jti].add(thing)
        return subjects_of(bare, certs) | on_behalf_of

    def revoked(self, jtis: Iterable[str]) -> None:
        """Tokens were revoked: devices that cached answers resting on them must forget them."""
        jtis = list(jtis)
        things = {t for jti in jtis for t in self._token_users.pop(jti, set())}
        for thing in sorted(things | self.store.take_token_uses(jtis)):
            self.on_rules_changed(RulesChanged(thing))

    def is_friend(self, thing: str, requester: str) -> bool | None:
        thing, requester = bare_jid(thing, "thing"), bare_jid(requester)
        if self._privileged(thing, requester):
            return True
        if not self.owner_of(thing):
            return False
        return decide_friend(self._rules.get(thing, ()), subjects_of(requester))

    def can_read(
        self, thing: str, requester: str, nodes: Sequence[NodeRef], fields: Sequence[str], tokens: Tokens
    ) -> Subset | bool | None:
        return self._decide("read", thing, requester, nodes, fields, tokens)

    def can_control(
        self, thing: str, requester: str, nodes: Sequence[NodeRef], parameters: Sequence[str], tokens: Tokens
    ) -> Subset | bool | None:
        return self._decide("control", thing, requester, nodes, parameters, tokens)

    def _decide(self, action, thing, requester, nodes, names, tokens) -> Subset | bool | None:
        thing = bare_jid(thing, "thing")
        requester = bare_jid(requester)
        if self._privileged(thing, requester):
            return Subset()
        if not self.owner_of(thing):
            return False
        return decide_subset(
            self._rules.get(thing, ()), action, self._subjects(thing, requester, tokens), nodes, names
        )

    # -- owner rule management -----------------------------------------------------------------------
    def check_owner(self, actor: str, thing: str) -> str:
        """The thing's bare JID if `actor` may manage its rules; Forbidden/ItemNotFound otherwise."""
        thing = bare_jid(thing, "thing")
        owner = self.owner_of(thing)
        actor = JID(actor).bare
        if not owner:
            if actor in self.admins:
                return thing
            raise ItemNotFound(f"{thing} has no owner known to this provisioning server")
        if actor != owner and actor not in self.admins:
            raise Forbidden(f"only the owner of {thing} manages its rules")
        return thing

    def rules_of(self, thing: str) -> list[Rule]:
        return list(self._rules.get(thing, ()))

    def add_rule(self, actor: str, rule: Rule) -> Rule:
        thing = self.check_owner(actor, rule.thing)
        if rule.action not in ACTIONS:
            raise BadRequest(f"action must be one of {', '.join(ACTIONS)}")
        before = self._friends(thing)
        stored = self.store.add_rule(
            Rule(thing, rule.subject, rule.action, rule.allow, rule.names, rule.nodes)
        )
        self._rules[thing].append(stored)
        log.info("%s added rule %s", JID(actor).bare, stored.describe())
        self._changed(thing, before)
        return stored

    def remove_rule(self, actor: str, thing: str, rule_id: int) -> Rule:
        thing = self.check_owner(actor, thing)
        rule = next((r for r in self._rules.get(thing, ()) if r.id == rule_id), None)
        if rule is None:
            raise ItemNotFound(f"{thing} has no rule #{rule_id}")
        before = self._friends(thing)
        self.store.remove_rules([rule_id])
        self._rules[thing].remove(rule)
        log.info("%s removed rule %s", JID(actor).bare, rule.describe())
        self._changed(thing, before)
        return rule

    def _drop_rules(self, thing: str) -> None:
        rules = self._rules.pop(thing, [])
        if rules:
            self.store.remove_rules([r.id for r in rules])
            jids = sorted({r.subject for r in rules if "@" in r.subject})
            self.on_rules_changed(RulesChanged(thing, jids, [], jids))

    def _friends(self, thing: str) -> tuple[set[str], set[str]]:
        """(friends, readers): JID subjects allowed anything, and allowed to read the whole stream."""
        rules = [r for r in self._rules.get(thing, ()) if r.allow and "@" in r.subject]
        return {r.subject for r in rules}, self.stream_readers(thing)

    def stream_readers(self, thing: str) -> set[str]:
        """Bare JIDs the rules let read *everything* of the thing: only they may subscribe to its
        pub/sub nodes, which carry every field (a field-restricted reader uses canRead readouts)."""
        rules = self._rules.get(thing, ())
        candidates = {r.subject for r in rules if r.action == "read" and r.allow and "@" in r.subject}
        return {s for s in candidates if self.reads_everything(thing, s)}

    def reads_everything(self, thing: str, requester: str) -> bool:
        """True when the rules answer a read of all nodes and all fields "as asked" (no subset)."""
        return self.can_read(thing, requester, (), (), Tokens()) == Subset()

    def _changed(self, thing: str, before: tuple[set[str], set[str]]) -> None:
        friends, readers = self._friends(thing)
        self.on_rules_changed(
            RulesChanged(
                thing, sorted(before[0] - friends), sorted(readers - before[1]), sorted(before[1] - readers)
            )
        )

    # -- service and user privileges (canAccess, hasPrivilege, downloadPrivileges) -----------------------
    def service_of(self, service_token: str, presenter: str) -> str:
        """The service a serviceToken proves (its holder); Forbidden when none of the tokens is valid."""
        bare = JID(presenter).bare
        for token in service_token.split():
            try:
                return self.tokens.verify(token, bare).holder
            except TokenRefused as exc:
                log.info("serviceToken of %s refused: %s", bare, exc)
        raise Forbidden("no valid serviceToken")

    def user_of(self, user_token: str, service: str) -> str:
        for token in user_token.split():
            try:
                return self.tokens.verify(token, service).holder
            except TokenRefused as exc:
                log.info("userToken presented by %s refused: %s", service, exc)
        raise Forbidden("no valid userToken")

    def can_access(self, service: str, user: str) -> str | None:
        """A user token for `user` at `service` if it has any privilege there, else None."""
        if not any(include for include, _ in self.store.privileges(service, user)):
            return None
        return self.tokens.issue(user, b"", party=service)

    def has_privilege(self, service: str, user: str, privilege: str) -> bool:
        """First entry (in the owner's order) equal to or a dotted parent of `privilege` decides."""
        for include, entry in self.store.privileges(service, user):
            if privilege == entry or privilege.startswith(entry + "."):
                return include
        return False

    def privileges(self, service: str, user: str) -> list[tuple[bool, str]]:
        return self.store.privileges(service, user)

    def set_privileges(self, actor: str, service: str, user: str, entries: list[tuple[bool, str]]) -> None:
        if JID(actor).bare not in self.admins:
            raise Forbidden("only an administrator sets service privileges")
        for _, privilege in entries:
            if not privilege or any(not part for part in privilege.split(".")):
                raise BadRequest(f"{privilege!r} is not a dotted privilege id")
        self.store.set_privileges(bare_jid(service), bare_jid(user), entries)
