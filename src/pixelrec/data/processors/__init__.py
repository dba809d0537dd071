"""Modular preprocessing steps: text cleaning, image validation, numeric scaling, filtering."""

from pixelrec.data.processors.filter import DataFilter
from pixelrec.data.processors.image import ImageProcessor
from pixelrec.data.processors.numerical import NumericalProcessor
from pixelrec.data.processors.text import TextProcessor

__all__ = ["DataFilter", "ImageProcessor", "NumericalProcessor", "TextProcessor"]
