"""Put-away (001): tasks that move received stock to a bin, with a suggested bin when none is given."""

from chalicelib.features.putaway.model import PutAwayTask
from chalicelib.features.putaway.rules import suggest_bin
from chalicelib.features.putaway.service import PutAwayService

__all__ = ["PutAwayService", "PutAwayTask", "suggest_bin"]
