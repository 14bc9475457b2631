"""Image backbones: plain torch modules from a CxHxW shape to a feature vector, shared by the agents' encoders and
perception's pretraining (the SB3 adapter is :mod:`facebox.agents.encoders`)."""

from facebox.perception.backbones.cnn import CourseCNN, Shape
from facebox.perception.backbones.spatial_softmax import SpatialSoftmax
from facebox.perception.backbones.transformer import PatchTransformer, sincos_2d

__all__ = ["Shape", "CourseCNN", "SpatialSoftmax", "PatchTransformer", "sincos_2d"]
