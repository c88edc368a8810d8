"""Value ranges of parameter models beyond what one `Field(ge=..., le=...)` says (its bounds also
show in a deployment's JSON schema): bounded dict values, and low/high pairs in order."""
from typing import Annotated

from pydantic import Field, model_validator

Fraction = Annotated[float, Field(ge=0, le=1)]      # a share, ratio or probability
NonNegative = Annotated[float, Field(ge=0)]


def ordered(*pairs: tuple[str, str]):
    """A model validator: in each (low, high) pair of fields, low <= high."""
    def check(self):
        for low, high in pairs:
            if getattr(self, low) > getattr(self, high):
                raise ValueError(f"{low} ({getattr(self, low)}) is above {high} ({getattr(self, high)})")
        return self
    return model_validator(mode="after")(check)
