"""transformers 5's declarative conversions (``WeightConverter``, ``WeightRenaming``) as plan ops."""

from __future__ import annotations

from weightfit.converters.recognise import Recognised
from weightfit.manifest import Manifest


def recognise_transformers(source: Manifest, target: Manifest) -> Recognised | None:
    """Name the transformers conversion that maps ``source`` onto ``target``, if one does."""
    return None
