"""Shape rules: each layer's checks and output shapes in pure Python, without torch.

A rule has the builder's signature, ``rule(params, inputs) -> list[TensorShape]`` (one shape
per output port), and raises `ShapeError` with the beginner's sentence when the inputs do not
fit. Shape inference calls rules instead of running builders on meta tensors, so the canvas
shows shapes in microseconds and before torch is loaded; every builder calls its rule first,
so the two can never disagree about what is refused. The layer tests hold each rule equal to
the real module's output.
"""
