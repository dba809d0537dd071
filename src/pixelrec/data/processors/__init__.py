"""Modular preprocessing steps: text cleaning, image validation, filtering, numeric scaling.

`PROCESSORS` is the registry of steps `pixelrec.data.preprocess` runs in order; new ones register
with `@register_processor("name")` and receive the `Preprocessing` state.
"""

from pixelrec.data.processors import steps  # noqa: F401  (registers the built-in steps)
from pixelrec.data.processors.filter import DataFilter
from pixelrec.data.processors.image import ImageProcessor
from pixelrec.data.processors.numerical import NumericalProcessor
from pixelrec.data.processors.registry import PROCESSORS, Preprocessing, register_processor
from pixelrec.data.processors.text import TextProcessor

__all__ = ["PROCESSORS", "DataFilter", "ImageProcessor", "NumericalProcessor", "Preprocessing",
           "TextProcessor", "register_processor"]
