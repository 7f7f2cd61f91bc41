"""LoRA on vLLM's CPU build, applied per run of tokens that share an adapter, and not at all to base tokens.

Why: vLLM's CPU punica wrapper (``vllm.lora.punica_wrapper.punica_cpu``) runs its PyTorch
``bgmv`` ops for every wrapped layer on every step: each call gathers one copy of the adapter's
weights *per token* (``lora_b_weights[indices]``), converts it, and runs a batched ``einsum``.
On the CPU profile that was 56 % of an adapter stream's time (see ``BENCHMARKS.md``). It also
runs them for base tokens: their index is -1, which selects the *last* LoRA slot, so base
requests pay for LoRA and, once that slot holds an adapter, get its output (the CPU LoRA slot
bug of ``shared/spec/cpu-profile.md``).

``GroupedPunicaWrapperCPU`` computes, once per engine step, the runs of consecutive tokens that
share an adapter (requests are laid out one after another, so a prefill is one run and a decode
step has one run per adapter-request), and nothing is done for base tokens. A wrapped layer's
slices (q, k, v) are fused into one LoRA per slot, built once and kept until the slot changes,
so a layer costs two matrix products per run, or two batched products for a decode step across
adapters. The products are in float32 (see ``FusedLoRA``), added in place to the layer's output.

vLLM builds the wrapper inside its engine-core process, so it is chosen there by a vLLM general
plugin: ``deployments/llm/vllm_plugin.py``.
"""

from __future__ import annotations

from typing import Any

import torch
from vllm import _custom_ops as ops
from vllm.lora.punica_wrapper.punica_cpu import PunicaWrapperCPU


def token_runs(indices: list[int]) -> list[tuple[int, int, int]]:
    """``(slot, start, end)`` for each run of consecutive tokens on the same LoRA slot; base tokens (-1) left out."""
    runs: list[tuple[int, int, int]] = []
    start = 0
    for i in range(1, len(indices) + 1):
        if i == len(indices) or indices[i] != indices[start]:
            if indices[start] >= 0:
                runs.append((indices[start], start, i))
            start = i
    return runs


class GroupedPunicaWrapperCPU(PunicaWrapperCPU):
    """vLLM's CPU wrapper with the linear-layer LoRA ops done per run of tokens (see the module docstring).

    Embedding and logits LoRA (layers the CPU profile does not wrap) keep vLLM's implementation.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.runs: list[tuple[int, int, int]] = []
        self._fused_layers: dict[int, FusedLoRA] = {}
        self._transposed_cache: dict[tuple[int, int], tuple[torch.Tensor, int, torch.Tensor]] = {}

    def update_metadata(self, *args: Any, **kwargs: Any) -> None:
        super().update_metadata(*args, **kwargs)
        self.runs = token_runs(self.token_lora_indices.tolist())

    def add_shrink(
        self, y: Any, x: torch.Tensor, lora_a_stacked: tuple[torch.Tensor, ...], scale: float, **kwargs: Any
    ) -> None:
        """``y[i][run] = x[run] @ A_i[slot].T * scale``, in float32; rows of base tokens are left as they are (zeros).

        With ``add_expand``: the path of LoRA layers that split the two products (the fully sharded
        ones); the CPU profile's q/k/v and o projections go through ``add_lora_linear``.
        """
        x = x.view(-1, x.shape[-1])
        for slot, start, end in self.runs:
            xs = x[start:end].float()
            for i, a in enumerate(lora_a_stacked):
                out = y[i].view(-1, y[i].shape[-1])
                prod = torch.mm(xs, self._transposed(a, slot))
                out[start:end, : prod.shape[1]] = prod if scale == 1.0 else prod * scale

    def add_expand(
        self,
        y: torch.Tensor,
        x: Any,
        lora_b_stacked: tuple[torch.Tensor, ...],
        output_slices: tuple[int, ...],
        offset_start: int = 0,
        add_inputs: bool = True,
        **kwargs: Any,
    ) -> None:
        """``y[run, slice_i] (+)= x[i][run] @ B_i[slot].T`` for each output slice, the product in float32."""
        out = y.view(-1, y.shape[-1])
        for slot, start, end in self.runs:
            offset = offset_start
            for i, b in enumerate(lora_b_stacked):
                size = output_slices[i]
                prod = torch.mm(x[i][start:end].float(), self._transposed(b, slot))
                target = out[start:end, offset : offset + size]
                if add_inputs:
                    target.add_(prod[:, :size])
                else:
                    target.copy_(prod[:, :size])
                offset += size

    def _transposed(self, stacked: torch.Tensor, slot: int) -> torch.Tensor:
        """``stacked[slot, 0].T`` in float32, contiguous; rebuilt when vLLM writes ``stacked`` again."""
        key = (id(stacked), slot)
        hit = self._transposed_cache.get(key)
        if hit is None or hit[0] is not stacked or hit[1] != stacked._version:
            hit = self._transposed_cache[key] = (stacked, stacked._version, stacked[slot, 0].float().t().contiguous())
        return hit[2]

    def add_lora_linear(
        self,
        y: torch.Tensor,
        x: torch.Tensor,
        lora_a_stacked: tuple[torch.Tensor, ...],
        lora_b_stacked: tuple[torch.Tensor, ...],
        scale: float,
        output_slices: tuple[int, ...],
        *,
        buffer: Any = None,
        **kwargs: Any,
    ) -> None:
        """``y[run] += (x[run] @ A.T * scale) @ B.T`` per run, all of a layer's slices fused (see ``FusedLoRA``)."""
        if not self.runs:
            return
        out = y.view(-1, y.shape[-1])
        x = x.view(-1, x.shape[-1])
        add = kwargs.get("add_inputs", True)
        fused = self._fused(lora_a_stacked, lora_b_stacked, output_slices)
        width = fused.width
        for slot, start, end in self.runs:
            prod = fused.apply(slot, x[start:end].float(), scale)
            target = out[start:end, :width]
            target.add_(prod) if add else target.copy_(prod)

    def _fused(
        self,
        lora_a_stacked: tuple[torch.Tensor, ...],
        lora_b_stacked: tuple[torch.Tensor, ...],
        output_slices: tuple[int, ...],
    ) -> FusedLoRA:
        key = id(lora_a_stacked)
        fused = self._fused_layers.get(key)
        if fused is None or fused.a_stacked is not lora_a_stacked:
            fused = self._fused_layers[key] = FusedLoRA(lora_a_stacked, lora_b_stacked, output_slices)
        return fused


class FusedLoRA:
    """One wrapped layer's slices (q, k, v, …) as one LoRA per slot, transposed, in float32.

    ``A.T`` is the slices' ``A`` side by side, so one product gives every slice's ranks; ``B.T``
    is block-diagonal: slice i's ``B`` in the rows of its ranks and the columns of its output
    slice. Float32 because ``torch.mm`` in bfloat16 is about ten times slower here for these
    shapes (no bfloat16 matrix units on this CPU), and it is more precise than vLLM's bfloat16
    expand. One token's row goes through ``torch.mm`` (a single-threaded matrix-vector
    product, ~6 µs a layer); more rows through vLLM's oneDNN matmul, because ``torch.mm``
    with two threads costs 30-400 µs on a few rows (measured: ``BENCHMARKS.md``). Built on first
    use of a slot and kept until vLLM writes the layer's stacked weights again: loading or
    clearing a slot bumps their tensors' ``_version``.
    """

    def __init__(
        self, a_stacked: tuple[torch.Tensor, ...], b_stacked: tuple[torch.Tensor, ...], output_slices: tuple[int, ...]
    ) -> None:
        self.a_stacked, self.b_stacked, self.slices = a_stacked, b_stacked, tuple(output_slices)
        self.width = sum(self.slices)
        self._versions: tuple[int, ...] = ()
        self._pairs: dict[int, tuple[torch.Tensor, torch.Tensor]] = {}
        self._handlers: dict[int, tuple[Any, Any]] = {}  # oneDNN matmuls over pair(slot), vLLM's own CPU GEMM

    def _check(self) -> None:
        versions = tuple(t._version for t in self.a_stacked + self.b_stacked)
        if versions != self._versions:
            self._pairs.clear()
            self._handlers.clear()
            self._versions = versions

    def pair(self, slot: int) -> tuple[torch.Tensor, torch.Tensor]:
        """``A.T`` ``(hidden, ranks)`` and ``B.T`` ``(ranks, width)`` of one slot."""
        self._check()
        if slot not in self._pairs:
            self._pairs[slot] = self._build(slot)
        return self._pairs[slot]

    def apply(self, slot: int, x: torch.Tensor, scale: float) -> torch.Tensor:
        """``(x @ A.T * scale) @ B.T`` for float32 rows ``x`` of one slot's tokens."""
        a_t, b_t = self.pair(slot)
        if x.shape[0] == 1 or not ops._supports_onednn:  # one row: a matrix-vector product, single-threaded
            shrunk = torch.mm(x, a_t)
            return torch.mm(shrunk * scale if scale != 1.0 else shrunk, b_t)
        if slot not in self._handlers:
            self._handlers[slot] = (ops.create_onednn_mm(a_t, 32), ops.create_onednn_mm(b_t, 32))
        ha, hb = self._handlers[slot]
        shrunk = ops.onednn_mm(ha, x, None)
        return ops.onednn_mm(hb, shrunk * scale if scale != 1.0 else shrunk, None)

    def _build(self, slot: int) -> tuple[torch.Tensor, torch.Tensor]:
        a_t = torch.cat([a[slot, 0] for a in self.a_stacked]).float().t().contiguous()
        ranks = [a.shape[2] for a in self.a_stacked]
        b_t = torch.zeros(sum(ranks), self.width, dtype=torch.float32)
        row = col = 0
        for b_i, size, rank in zip(self.b_stacked, self.slices, ranks, strict=True):
            b_t[row : row + rank, col : col + size] = b_i[slot, 0][:size].t()
            row, col = row + rank, col + size
        return a_t, b_t
