"""The device side of XEP-0325 without XMPP: declared parameters, validation of a whole request, apply.

XEP-0325 §3.4.3: "the device must validate all parameters against all nodes before taking any control
action". :meth:`ControlDevice.plan` does exactly that and returns the list of writes; :meth:`apply`
then performs them in request order. If a write itself fails (hardware refuses), the writes already
done are rolled back to the values read before, so a request is applied whole or not at all as far
as the device can tell.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from xml.etree.ElementTree import Element

from ..discovery.model import NodeRef
from ..errors import BadRequest, FeatureNotImplemented, InternalServerError, ItemNotFound
from ..sensordata.model import same_node
from .form import build_form
from .model import THIS_DEVICE, Getter, ParamError, Parameter, Setter, UnknownParameter

log = logging.getLogger(__name__)

__all__ = ["ControlDevice", "Write"]


@dataclass(frozen=True, slots=True)
class Write:
    """One validated write: which node, which parameter, which value."""

    node: NodeRef
    parameter: Parameter
    value: object


@dataclass
class ControlDevice:
    """The control parameters of a device (``NodeRef()``) or of the nodes behind a concentrator."""

    title: str = "Control"
    nodes: dict[NodeRef, dict[str, Parameter]] = field(default_factory=dict)

    def add_parameter(self, name: str, type: str, write: Setter, read: Getter | None = None, *,
                      node: NodeRef = THIS_DEVICE, label: str = "", description: str = "", minimum: object = None,
                      maximum: object = None, options: Iterable[str] = (), page: str = "",
                      check: Callable[[object], str | None] | None = None) -> Parameter:
        """Declare a parameter; ``check`` is an extra rule returning a problem text or None."""
        p = Parameter(name, type, write, read, label, description, minimum, maximum, tuple(options), page, check)
        self.nodes.setdefault(node, {})[name] = p
        return p

    def select(self, nodes: Sequence[NodeRef]) -> list[NodeRef]:
        """The declared nodes a request addresses (all of its own when none); ItemNotFound otherwise."""
        if not nodes:
            if THIS_DEVICE in self.nodes or not self.nodes:
                return [THIS_DEVICE]
            raise BadRequest("this device controls nodes behind it: name them with <node/>")
        out: list[NodeRef] = []
        for asked in nodes:
            found = [n for n in self.nodes if same_node(n, asked)]
            if not found:
                raise ItemNotFound(f"unknown node {asked.node_id!r}")
            out.extend(n for n in found if n not in out)
        return out

    def common_parameters(self, nodes: Sequence[NodeRef]) -> list[Parameter]:
        """Parameters every node has with the same type, in the first node's order."""
        first = self.nodes.get(nodes[0], {})
        common = []
        for name, p in first.items():
            if all(name in self.nodes.get(n, {}) and self.nodes[n][name].type == p.type for n in nodes[1:]):
                common.append(p)
        return common

    async def form(self, nodes: Sequence[NodeRef], only: Sequence[str] | None = None) -> Element:
        """The control form of these nodes (only common parameters for several; XEP-0325 §3.4.4),
        limited to the parameters in ``only`` when the trust gate restricts the requester."""
        selected = self.select(nodes)
        params = self.common_parameters(selected)
        if only is not None:
            params = [p for p in params if p.name in only]
        if not params and len(selected) > 1:
            raise FeatureNotImplemented("Cannot merge control forms from different nodes.")
        current: dict[str, object] = {}
        if len(selected) == 1:
            for p in params:
                if p.read is not None:
                    try:
                        current[p.name] = await _call(p.read)
                    except Exception as exc:  # a value we cannot read is left out of the form
                        log.warning("reading %s for the control form failed: %s", p.name, exc)
        title = self.title if selected == [THIS_DEVICE] else ", ".join(n.node_id for n in selected)
        return build_form(title, params, current)

    def plan(self, nodes: Sequence[NodeRef], values: Sequence[tuple[str | None, str, object]]) -> list[Write]:
        """Validate every (type, name, value) against every node; the writes to perform, or an error.

        ``type`` is the element name of a typed set (None for a form field, typed by the declaration);
        ``value`` is the lexical text (str) or an already-typed Python value.
        """
        selected = self.select(nodes)
        writes = []
        for node in selected:
            params = self.nodes.get(node, {})
            for kind, name, value in values:
                p = params.get(name)
                if p is None:
                    raise UnknownParameter(name)
                if kind is not None and kind != p.type and not (kind == "int" and p.type == "long"):
                    raise ParamError(name, f"Invalid parameter type: {kind}, expected {p.type}.")
                typed = p.parse(value) if isinstance(value, str) else p.validate(value)
                writes.append(Write(node, p, typed))
        return writes

    async def apply(self, writes: Sequence[Write]) -> None:
        """Perform the writes in order; on a failing write, restore the ones done before."""
        done: list[tuple[Write, object]] = []
        for w in writes:
            before = None
            if w.parameter.read is not None:
                try:
                    before = await _call(w.parameter.read)
                except Exception:
                    before = None
            try:
                await _call(w.parameter.write, w.value)
            except Exception as exc:
                log.warning("writing %s=%r failed (%s); rolling back %d write(s)", w.parameter.name, w.value, exc,
                            len(done))
                kept = []  # writes that could not be undone: no read getter, or the undo failed
                for prev, old in reversed(done):
                    if old is None:
                        kept.append(prev.parameter.name)
                        continue
                    try:
                        await _call(prev.parameter.write, old)
                    except Exception:
                        log.exception("rollback of %s failed", prev.parameter.name)
                        kept.append(prev.parameter.name)
                if kept:
                    raise InternalServerError(
                        f"setting {w.parameter.name} failed; these were set and could not be undone: "
                        + ", ".join(reversed(kept))) from None
                raise InternalServerError(f"setting {w.parameter.name} failed; nothing was changed") from None
            done.append((w, before))


async def _call(fn, *args):
    result = fn(*args)
    if inspect.isawaitable(result):
        result = await result
    return result
