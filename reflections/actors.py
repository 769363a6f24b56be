"""Who is acting, with the scope their role gives them."""

from dataclasses import dataclass, field

from reflections.models.enums import Role


@dataclass(frozen=True)
class Actor:
    role: Role
    user_id: int | None = None
    handling_unit_ids: frozenset[int] = field(default_factory=frozenset)
    administrative_unit_ids: frozenset[int] = field(default_factory=frozenset)
    reflection_id: int | None = None  # a citizen acts on the one reflection their secret opens

    @classmethod
    def system(cls) -> "Actor":
        return cls(Role.SYSTEM)

    @classmethod
    def citizen(cls, reflection_id: int | None = None) -> "Actor":
        return cls(Role.CITIZEN, reflection_id=reflection_id)
