"""Transformer blocks whose self-attention is causal: step i sees steps 0..i only.

torch's blocks take the causal mask as a forward argument, while a canvas node has only its
inputs; these subclasses build the mask from the sequence length instead. They keep torch's
submodules, so the state dict is the one ``nn.TransformerEncoderLayer`` or
``nn.TransformerDecoderLayer`` has, and switching `causal` on keeps a node's weights. Like
`studio.layers.modules`, each class stands alone (only ``torch`` and ``nn``): the code
generator copies its source into standalone code. The forward never reads the batch size.
"""

import torch
from torch import nn


class CausalTransformerEncoderLayer(nn.TransformerEncoderLayer):
    """``nn.TransformerEncoderLayer`` (batch first) with a causal self-attention mask."""

    def forward(self, src: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        length = src.shape[1]
        ones = torch.ones((length, length), dtype=torch.bool, device=src.device)
        mask = torch.triu(ones, diagonal=1)
        x = src
        if self.norm_first:
            x = x + self._attend(self.norm1(x), mask)
            x = x + self._feed_forward(self.norm2(x))
        else:
            x = self.norm1(x + self._attend(x, mask))
            x = self.norm2(x + self._feed_forward(x))
        return x

    def _attend(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        out, _ = self.self_attn(x, x, x, attn_mask=mask, need_weights=False)
        return self.dropout1(out)

    def _feed_forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.dropout2(self.linear2(self.dropout(self.activation(self.linear1(x)))))


class CausalTransformerDecoderLayer(nn.TransformerDecoderLayer):
    """``nn.TransformerDecoderLayer`` (batch first) whose self-attention over the target is
    causal; the attention to `memory` sees all of it."""

    def forward(self, tgt: torch.Tensor, memory: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        length = tgt.shape[1]
        ones = torch.ones((length, length), dtype=torch.bool, device=tgt.device)
        mask = torch.triu(ones, diagonal=1)
        x = tgt
        if self.norm_first:
            x = x + self._attend_self(self.norm1(x), mask)
            x = x + self._attend_memory(self.norm2(x), memory)
            x = x + self._feed_forward(self.norm3(x))
        else:
            x = self.norm1(x + self._attend_self(x, mask))
            x = self.norm2(x + self._attend_memory(x, memory))
            x = self.norm3(x + self._feed_forward(x))
        return x

    def _attend_self(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        out, _ = self.self_attn(x, x, x, attn_mask=mask, need_weights=False)
        return self.dropout1(out)

    def _attend_memory(self, x: torch.Tensor, memory: torch.Tensor) -> torch.Tensor:
        out, _ = self.multihead_attn(x, memory, memory, need_weights=False)
        return self.dropout2(out)

    def _feed_forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.dropout3(self.linear2(self.dropout(self.activation(self.linear1(x)))))
