"""Builders: functions that turn a node's params and input shapes into an ``nn.Module``.

Each has the signature ``build(params, inputs) -> nn.Module``, where `params` are validated and
complete and `inputs` are the shapes arriving at the node's ports, in port order. A builder checks
those shapes first and raises `ShapeError` with a sentence a beginner can act on; sizes that
follow from the input (in_features, in_channels, embed_dim) are read from it, never asked for.
"""
