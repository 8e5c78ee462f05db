"""One convention for every named choice in depthlab: activations, inits, costs,
optimizers, data sets and studies (open: a :class:`Registry`), and statuses, backends,
kernels and the like (closed: a :class:`Choice` enum).

A :class:`Registry` holds entries, each a frozen dataclass with a ``name``, declared once
with everything the package needs of it (for an activation: its module, derivative,
saturation rule, Gaussian form for theory and kernel id). Every lookup goes through
:meth:`Registry.get`, so every kind of name gets the same one-line error with a "did you
mean" suggestion and the valid choices.

A *family* is a name that takes an argument after a colon (``gaussian:0.01``,
``arrays:PATH``): it is declared once with a function that turns the argument into an
entry.

Registries import nothing heavy. An entry refers to torch only through callables, such
as :func:`deferred` references, so that the command line lists and checks names without
importing torch.
"""

from __future__ import annotations

import enum
import importlib
from collections.abc import Callable, Iterable, Iterator
from typing import Any, Generic, Protocol, TypeVar

from depthlab.errors import DepthlabError, unknown_choice


class Named(Protocol):
    name: str


E = TypeVar("E", bound=Named)


class Registry(Generic[E]):
    """Entries of one ``kind`` ("activation", "init", …) by name, in declaration order."""

    def __init__(self, kind: str, entries: Iterable[E] = ()):
        self.kind = kind
        self._entries: dict[str, E] = {}
        self._families: dict[str, tuple[str, Callable[[str], E]]] = {}
        for entry in entries:
            self.register(entry)

    def register(self, entry: E, replace: bool = False) -> E:
        """Add ``entry`` and return it. A name already taken is an error unless ``replace``,
        which puts ``entry`` in the place of the entry of that name."""
        if not (replace and entry.name in self._entries):
            self._check_free(entry.name)
        self._entries[entry.name] = entry
        return entry

    def register_family(self, name: str, argument: str, make: Callable[[str], E]) -> None:
        """Add the names ``name:ARGUMENT``; ``make(argument)`` builds the entry, raising
        :class:`DepthlabError` for an argument it cannot use. ``argument`` names it in the
        list of choices (``gaussian:STD``)."""
        self._check_free(name)
        self._families[name] = (argument, make)

    def unregister(self, name: str) -> None:
        """Remove an entry or family (for tests and plug-ins that add their own)."""
        if self._entries.pop(name, None) is None and self._families.pop(name, None) is None:
            raise self._unknown(name)

    def get(self, name: str) -> E:
        """The entry called ``name``, or one line naming it, the closest valid name and
        every valid choice."""
        if not isinstance(name, str):
            raise DepthlabError(f"{self.kind} must be a name, not {name!r}; valid choices: {', '.join(self.choices())}")
        if name in self._entries:
            return self._entries[name]
        head, _, argument = name.partition(":")
        if head in self._families:
            return self._families[head][1](argument)
        raise self._unknown(name)

    def choices(self) -> list[str]:
        """Every valid name, families as ``name:ARGUMENT``."""
        return [*self._entries, *(f"{name}:{argument}" for name, (argument, _) in self._families.items())]

    def __iter__(self) -> Iterator[E]:
        return iter(list(self._entries.values()))

    def __contains__(self, name: object) -> bool:
        if not isinstance(name, str):
            return False
        return name in self._entries or name.partition(":")[0] in self._families

    def __len__(self) -> int:
        return len(self._entries)

    def _check_free(self, name: str) -> None:
        if name in self._entries or name in self._families or ":" in name:
            raise ValueError(f"{self.kind} name '{name}' is taken or contains ':'")

    def _unknown(self, name: str) -> DepthlabError:
        return unknown_choice(self.kind, name, self.choices())


class deferred:
    """A callable named by ``"module:attribute"``, imported at its first call, with
    arguments bound as by :func:`functools.partial`: ``deferred("torch.nn:LeakyReLU",
    0.01)()`` is ``torch.nn.LeakyReLU(0.01)``, and importing the declaration imports
    nothing."""

    def __init__(self, target: str, *args: Any, **kwargs: Any):
        self.target, self.args, self.kwargs = target, args, kwargs
        self._resolved: Callable | None = None

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if self._resolved is None:
            module, _, attribute = self.target.partition(":")
            self._resolved = getattr(importlib.import_module(module), attribute)
        return self._resolved(*self.args, *args, **self.kwargs, **kwargs)

    def __repr__(self) -> str:
        bound = [*map(repr, self.args), *(f"{k}={v!r}" for k, v in self.kwargs.items())]
        return f"deferred({', '.join([repr(self.target), *bound])})"


class Choice(str, enum.Enum):
    """A closed set of names, such as a run's statuses or a grid's backends: each member
    *is* its name as a ``str`` (written to JSON, compared with and formatted as the plain
    name), and :meth:`parse` turns a user's string into a member or gives the same one-line
    error as :meth:`Registry.get`. A subclass names the word the error uses:
    ``class Backend(Choice, kind="backend")``."""

    def __init_subclass__(cls, kind: str = "", **kwargs: Any):
        super().__init_subclass__(**kwargs)
        cls._kind = kind

    def __str__(self) -> str:
        return str.__str__(self)

    def __format__(self, spec: str) -> str:
        return str.__format__(self.value, spec)

    @classmethod
    def parse(cls, name: object):
        """The member called ``name`` (a member is returned as it is), or one line naming
        it, the closest valid name and every valid choice."""
        try:
            return cls(name)
        except ValueError:
            raise unknown_choice(cls._kind, name, cls.names()) from None

    @classmethod
    def names(cls) -> tuple[str, ...]:
        """Every member's name, in declaration order."""
        return tuple(member.value for member in cls)
