"""Shape inference, compilation to torch.fx, code generation and model summaries.

`studio.compile.inference` needs no torch when every layer has a shape rule; the other
modules import torch.
"""
