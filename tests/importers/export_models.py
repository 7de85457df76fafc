"""Source models for the torch.export front end, written as people write them.

Each is a small configuration of a published design (a GPT-2 block as in nanoGPT, a ViT patch
embedding, an LSTM tagger), with the ordinary Python that stops symbolic fx tracing: size
unpacking, asserts, device checks, bool and None defaults, einops-style rearranges done with
view and permute, tuple inputs. Loaded from this file, so source lines can be checked.
"""

# Written as users write models: sizes unpacked and not all used.
# ruff: noqa: RUF059

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


class CausalSelfAttention(nn.Module):
    """GPT-2 attention: one projection to q, k, v, heads by view/transpose, scaled dot product."""

    def __init__(
        self, n_embd: int = 16, n_head: int = 2, block_size: int = 8, causal=False, fill=None
    ):
        super().__init__()
        self.fill = float("-inf") if fill is None else fill
        self.c_attn = nn.Linear(n_embd, 3 * n_embd)
        self.c_proj = nn.Linear(n_embd, n_embd)
        self.n_head = n_head
        self.n_embd = n_embd
        self.causal = causal
        mask = torch.tril(torch.ones(block_size, block_size))
        self.register_buffer("mask", mask.view(1, 1, block_size, block_size))

    def forward(self, x):
        B, T, C = x.size()
        q, k, v = self.c_attn(x).split(self.n_embd, dim=2)
        q = q.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)
        k = k.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)
        v = v.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)
        att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(k.size(-1)))
        if self.causal:
            att = att.masked_fill(self.mask[:, :, :T, :T] == 0, self.fill)
        att = F.softmax(att, dim=-1)
        y = (att @ v).transpose(1, 2).contiguous().view(B, T, C)
        return self.c_proj(y)


class GPTBlock(nn.Module):
    """Pre-norm transformer block with a size check, a device check and unused defaults."""

    def __init__(self, n_embd: int = 16, block_size: int = 8, causal: bool = False, fill=None):
        super().__init__()
        self.block_size = block_size
        self.ln_1 = nn.LayerNorm(n_embd)
        self.attn = CausalSelfAttention(n_embd, 2, block_size, causal, fill)
        self.ln_2 = nn.LayerNorm(n_embd)
        self.mlp = nn.Sequential(
            nn.Linear(n_embd, 4 * n_embd), nn.GELU(), nn.Linear(4 * n_embd, n_embd), nn.Dropout(0.1)
        )

    def forward(self, x, attention_mask=None, use_cache: bool = False):
        b, t, c = x.size()
        assert t <= self.block_size, f"cannot forward a sequence of length {t}"
        if x.is_cuda:
            x = x.contiguous()
        if attention_mask is not None:
            x = x * attention_mask
        x = x + self.attn(self.ln_1(x))
        x = x + self.mlp(self.ln_2(x))
        return x


class TinyGPT(nn.Module):
    """GPT-2 in small: token embedding, positions by an Embedding of arange, a causal block."""

    def __init__(self, vocab: int = 11, n_embd: int = 16, block_size: int = 8):
        super().__init__()
        self.wte = nn.Embedding(vocab, n_embd)
        self.wpe = nn.Embedding(block_size, n_embd)
        self.block = GPTBlock(n_embd, block_size, causal=True)
        self.ln_f = nn.LayerNorm(n_embd)
        self.head = nn.Linear(n_embd, vocab, bias=False)

    def forward(self, tokens):
        _, t = tokens.size()
        pos = torch.arange(0, t, dtype=torch.long, device=tokens.device)
        x = self.wte(tokens) + self.wpe(pos)
        x = self.ln_f(self.block(x))
        return self.head(x)


class LearnedPositions(nn.Module):
    """A position table as a parameter, cut to the sequence; a head on the last position."""

    def __init__(self, vocab: int = 11, dim: int = 8, block_size: int = 8):
        super().__init__()
        self.wte = nn.Embedding(vocab, dim)
        self.wpe = nn.Parameter(torch.randn(1, block_size, dim) * 0.02)
        self.head = nn.Linear(dim, 3)

    def forward(self, tokens):
        _, t = tokens.size()
        x = self.wte(tokens) + self.wpe[:, :t]
        return self.head(x[:, -1])


class PatchEmbedding(nn.Module):
    """ViT patches as einops writes 'b c (h p1) (w p2) -> b (h w) (p1 p2 c)'; a cls token."""

    def __init__(self, channels: int = 3, patch: int = 4, dim: int = 24):
        super().__init__()
        self.patch = patch
        self.proj = nn.Linear(patch * patch * channels, dim)
        self.cls_token = nn.Parameter(torch.randn(1, 1, dim))
        self.cls_norm = nn.LayerNorm(dim)

    def forward(self, img):
        b, c, height, width = img.shape
        p = self.patch
        h, w = height // p, width // p
        x = img.view(b, c, h, p, w, p).permute(0, 2, 4, 3, 5, 1).reshape(b, h * w, p * p * c)
        x = self.proj(x)
        cls = self.cls_norm(self.cls_token).expand(b, -1, -1)
        return torch.cat([cls, x], dim=1).mean(dim=1)


class PairFusion(nn.Module):
    """Takes one tuple argument (image features, metadata), as a two-branch model does."""

    def __init__(self):
        super().__init__()
        self.image = nn.Linear(8, 4)
        self.meta = nn.Linear(3, 4)

    def forward(self, pair):
        image, meta = pair
        return torch.relu(self.image(image)) + self.meta(meta)


class StatefulTagger(nn.Module):
    """An LSTM continuing from a given state (h, c): the catalog's LSTM starts at zero."""

    def __init__(self):
        super().__init__()
        self.lstm = nn.LSTM(5, 6, batch_first=True)
        self.out = nn.Linear(6, 2)

    def forward(self, x, state):
        y, _ = self.lstm(x, state)
        return self.out(y)


class DoubleInput(nn.Module):
    """Takes float64 values and computes in float32."""

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(6, 3)

    def forward(self, x):
        return torch.tanh(self.fc(x.float()))


class ValueBranch(nn.Module):
    """Branches on the values of a tensor: no graph of layers can."""

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 4)

    def forward(self, x):
        if x.sum() > 0:
            return self.fc(x)
        return x


class Siamese(nn.Module):
    """One tower applied to two inputs: one set of weights."""

    def __init__(self):
        super().__init__()
        self.tower = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 4))

    def forward(self, a, b):
        return self.tower(a) - self.tower(b)


class DebugPointer(nn.Module):
    """Reads a data pointer (debug code): torch.export cannot, symbolic fx records it unused."""

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 2)

    def forward(self, x):
        x.data_ptr()
        return self.fc(x)


class TiedHead(nn.Module):
    """The output layer reuses the embedding matrix (GPT-2's weight tying)."""

    def __init__(self, vocab: int = 9, dim: int = 6):
        super().__init__()
        self.wte = nn.Embedding(vocab, dim)

    def forward(self, tokens):
        x = self.wte(tokens)
        return F.linear(x, self.wte.weight)


class RecurrentLM(nn.Module):
    """Embedding, a bidirectional GRU, a two-layer LSTM, a head on the last step."""

    def __init__(self, vocab: int = 20):
        super().__init__()
        self.emb = nn.Embedding(vocab, 8)
        self.gru = nn.GRU(8, 6, batch_first=True, bidirectional=True)
        self.lstm = nn.LSTM(12, 5, num_layers=2, batch_first=True)
        self.head = nn.Linear(5, vocab)

    def forward(self, tokens):
        x, _ = self.gru(self.emb(tokens))
        out, (h, c) = self.lstm(x)
        return self.head(out[:, -1])


class FinalState(nn.Module):
    """Classifies from the LSTM's final hidden state, which the catalog's layer does not give."""

    def __init__(self):
        super().__init__()
        self.lstm = nn.LSTM(4, 5, batch_first=True)
        self.head = nn.Linear(5, 2)

    def forward(self, x):
        _, (h, _) = self.lstm(x)
        return self.head(h[-1])


class DecoderPieces(nn.Module):
    """A small decoder: nearest upsampling, a skip joined by stack, a clamped output."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(4, 4, 3, padding=1)

    def forward(self, x):
        up = F.interpolate(self.conv(x), scale_factor=2, mode="nearest")
        pair = torch.stack([up, up * 0.5], dim=1)
        return pair.sum(dim=1).clamp(min=-1.0, max=1.0)


class Centered(nn.Module):
    """Subtracts each row's largest value (as a stable softmax does) and keeps the smallest."""

    def forward(self, x):
        largest, _ = x.max(dim=1, keepdim=True)
        return x - largest, x.amin(dim=-1, keepdim=True)


class ArgMax(nn.Module):
    """Returns where each row's largest value is: indices, which no layer gives."""

    def forward(self, x):
        _, where = x.max(dim=1)
        return where


class BasicBlock(nn.Module):
    """ResNet's basic block as torchvision writes it: in-place ReLU and ``out += identity``."""

    def __init__(self, channels: int = 4):
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(channels)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(channels)

    def forward(self, x):
        identity = x
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        out += identity
        return self.relu(out)


class ReadsOldValue(nn.Module):
    """Takes a view, then adds in place: the view sees the new values."""

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 4)

    def forward(self, x):
        y = self.fc(x)
        first = y[:, :2]
        y.add_(x)
        return first * 2.0


class EncoderWithMask(nn.Module):
    """PyTorch's word-language model encoder: a causal mask built in forward, is_causal set."""

    def __init__(self):
        super().__init__()
        layer = nn.TransformerEncoderLayer(8, 2, 16, 0.0, batch_first=True)
        self.encoder = nn.TransformerEncoder(layer, 1)

    def forward(self, x):
        length = x.size(1)
        mask = torch.triu(torch.full((length, length), float("-inf")), diagonal=1)
        return self.encoder(x, mask=mask, is_causal=True)


class BertEmbeddings(nn.Module):
    """BERT's embeddings: words, positions 0..L-1, token types defaulting to zeros_like(ids)."""

    def __init__(self, vocab: int = 30, dim: int = 8, max_positions: int = 16):
        super().__init__()
        self.word_embeddings = nn.Embedding(vocab, dim)
        self.position_embeddings = nn.Embedding(max_positions, dim)
        self.token_type_embeddings = nn.Embedding(2, dim)
        self.LayerNorm = nn.LayerNorm(dim, eps=1e-12)

    def forward(self, input_ids, token_type_ids=None):
        if token_type_ids is None:
            token_type_ids = torch.zeros_like(input_ids)
        positions = torch.arange(input_ids.size(1), device=input_ids.device).unsqueeze(0)
        x = self.word_embeddings(input_ids) + self.position_embeddings(positions)
        return self.LayerNorm(x + self.token_type_embeddings(token_type_ids))


class LastTokenLogits(nn.Module):
    """nanoGPT's inference path: logits of the last position kept as a length-1 sequence
    (`x[:, [-1], :]`), returned with a loss that is None without targets."""

    def __init__(self):
        super().__init__()
        self.norm = nn.LayerNorm(8)
        self.head = nn.Linear(8, 5, bias=False)

    def forward(self, x, targets=None):
        x = self.norm(x)
        if targets is not None:
            return self.head(x), F.mse_loss(x, targets)
        return self.head(x[:, [-1], :]), None


class PickedPositions(nn.Module):
    """Fixed positions listed in forward, in their own order (`x[:, [2, 0]]`)."""

    def forward(self, x):
        return torch.relu(x[:, [2, 0]])


class ExamplesVAE(nn.Module):
    """PyTorch's VAE example: noise drawn in forward, in eval mode too."""

    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(12, 10)
        self.fc21 = nn.Linear(10, 3)
        self.fc22 = nn.Linear(10, 3)
        self.fc3 = nn.Linear(3, 12)

    def reparameterize(self, mu, logvar):
        std = torch.exp(0.5 * logvar)
        eps = torch.randn_like(std)
        return mu + eps * std

    def forward(self, x):
        h1 = F.relu(self.fc1(x))
        mu, logvar = self.fc21(h1), self.fc22(h1)
        return torch.sigmoid(self.fc3(self.reparameterize(mu, logvar))), mu, logvar


class InPlaceSamplingVAE(ExamplesVAE):
    """The older in-place spelling: logvar.mul(0.5).exp_(), eps.mul(std).add_(mu)."""

    def reparameterize(self, mu, logvar):
        std = logvar.div(2).exp_()
        eps = torch.randn_like(mu)
        return eps.mul(std).add_(mu)


class OtherNoise(nn.Module):
    """Noise that is no reparameterised sample: still refused, by name."""

    def forward(self, x):
        return x + torch.randn_like(x)


class FlashSelfAttention(nn.Module):
    """nanoGPT's attention as it runs on torch 2: F.scaled_dot_product_attention, causal."""

    def __init__(self, dim: int = 16, heads: int = 4):
        super().__init__()
        self.c_attn = nn.Linear(dim, 3 * dim)
        self.c_proj = nn.Linear(dim, dim)
        self.heads, self.dim = heads, dim

    def forward(self, x):
        b, t, c = x.size()
        q, k, v = self.c_attn(x).split(self.dim, dim=2)
        q = q.view(b, t, self.heads, c // self.heads).transpose(1, 2)
        k = k.view(b, t, self.heads, c // self.heads).transpose(1, 2)
        v = v.view(b, t, self.heads, c // self.heads).transpose(1, 2)
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=None, dropout_p=0.0, is_causal=True)
        return self.c_proj(y.transpose(1, 2).contiguous().view(b, t, c))


class KeepAllMaskAttention(nn.Module):
    """Hugging Face's BERT without padding: a mask that keeps every position."""

    def forward(self, x):
        keep = torch.ones(x.size(0), 1, x.size(2), x.size(2), dtype=torch.bool)
        return F.scaled_dot_product_attention(x, x, x, attn_mask=keep)


class PaddingMaskAttention(nn.Module):
    """A mask given with the input: it changes with the data, so it is refused."""

    def forward(self, x, keep):
        return F.scaled_dot_product_attention(x, x, x, attn_mask=keep[:, None, None, :] > 0)


class Conv1D(nn.Module):
    """Hugging Face GPT-2's Conv1D, as its library defines it: a Linear with the weight stored
    (in, out) and the input viewed as (N·L, in) around an addmm. The tests give the class the
    library's module name, which is how the importer recognises it without importing it."""

    def __init__(self, nf, nx):
        super().__init__()
        self.nf = nf
        self.weight = nn.Parameter(torch.randn(nx, nf) * 0.02)
        self.bias = nn.Parameter(torch.randn(nf) * 0.02)

    def forward(self, x):
        size_out = x.size()[:-1] + (self.nf,)  # noqa: RUF005 (as the library writes it)
        x = torch.addmm(self.bias, x.view(-1, x.size(-1)), self.weight)
        return x.view(size_out)


Conv1D.__module__ = "transformers.pytorch_utils"


class GPT2Attention(nn.Module):
    """GPT-2's attention: Conv1D projections and a causal mask handed to SDPA as attn_mask."""

    def __init__(self, dim: int = 16, heads: int = 2):
        super().__init__()
        self.c_attn = Conv1D(3 * dim, dim)
        self.c_proj = Conv1D(dim, dim)
        self.heads, self.dim = heads, dim

    def forward(self, x):
        b, t, c = x.size()
        q, k, v = self.c_attn(x).split(self.dim, dim=2)
        q, k, v = (z.view(b, t, self.heads, c // self.heads).transpose(1, 2) for z in (q, k, v))
        causal = torch.ones(t, t, dtype=torch.bool).tril()[None, None]
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=causal)
        return self.c_proj(y.transpose(1, 2).reshape(b, t, c))


class EncoderMaskOnly(nn.Module):
    """The usual call, a mask without is_causal: torch's encoder then tests the mask's values,
    a branch torch.export cannot take, so the import falls back to symbolic fx."""

    def __init__(self):
        super().__init__()
        layer = nn.TransformerEncoderLayer(8, 2, 16, 0.0, batch_first=True)
        self.encoder = nn.TransformerEncoder(layer, 1)

    def forward(self, x):
        mask = nn.Transformer.generate_square_subsequent_mask(x.size(1))
        return self.encoder(x, mask=mask)
