"""Training the multimodal model: `train_model` (behind `pixelrec train`)."""

from pixelrec.training.api import train_model
from pixelrec.training.losses import LOSSES, register_loss

__all__ = ["LOSSES", "register_loss", "train_model"]
