"""The base of every input command: validated on construction, unknown fields refused."""

from __future__ import annotations

from typing import Any

import pydantic
from pydantic import ConfigDict

from minicommerce.errors import ValidationError


class Command(pydantic.BaseModel):
    """An immutable, validated input to a service.

    Building one with bad values raises :class:`minicommerce.ValidationError` (not
    pydantic's), so scripts catch one error tree. Unknown fields are refused: a caller
    can never set what a command does not name.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)

    def __init__(self, /, **data: Any) -> None:
        try:
            super().__init__(**data)
        except pydantic.ValidationError as exc:
            raise ValidationError.from_pydantic(exc) from exc

    @classmethod
    def parse(cls, data: Any) -> Any:
        """Validate a mapping (from JSON, a form...) into this command."""
        try:
            return cls.model_validate(data)
        except pydantic.ValidationError as exc:
            raise ValidationError.from_pydantic(exc) from exc
