"""GumbelSoftmaxFlow: flow matching on the probability simplex (Tang, Zhang, Tong, Chatterjee 2025,
arXiv 2503.17361, "Gumbel-Softmax Flow Matching").

Each position of a sequence is a point on the simplex over the K allowed tokens (the regular tokens, plus pad
for variable-length data). Noise is a Gumbel-softmax point near the centre; the path to a clean one-hot follows
a Gumbel-softmax interpolant whose temperature decays exponentially (:class:`~seqguide.models.simplex_path.
GumbelSoftmaxPath`, which also documents the time convention: the paper's ``tau = 1 - t``). The network (any
:mod:`~seqguide.models.backbones` backbone, fed the soft state) is a *denoiser*: it predicts the clean token's
distribution ``p(x_1 | x_t)`` per position and is trained by cross-entropy on the clean tokens; the velocity is
built from that prediction, ``v = (decay / T) x * (p - <x, p>)``, and sampling integrates it through the one
sampling loop (:func:`seqguide.sample`) from the prior to the data end, where the state is read out by argmax.

The process protocol, as the loop and the guiders see it:

- ``prior(n)`` ``(n, L, K)`` float32 Gumbel-softmax noise (exact: the path's noise end does not depend on data).
- ``predict(state, t)`` ``(B, L, K)`` log-probabilities of the clean tokens (one network call; class branches
  batched as for masked diffusion).
- ``step(state, pred, t, s)``: one step of the flow in log coordinates (stays on the simplex for any step size).
  ``eta = 0`` (default) integrates the ODE deterministically; ``eta = 1`` is the *ancestral* step (draw a clean
  token per position from ``pred`` and follow its conditional path), exact for any step size with the exact
  denoiser and random, so that SVDD / SMC / best-of-N see distinct proposals from one state. With ``eta = 0``
  all M SVDD candidates of a state coincide and SVDD reduces to unguided sampling (set ``model.eta`` > 0 to use
  it). The step to ``s = 0`` ends on the argmax vertex (one-hot): the read-out.
- ``x0_estimate(state, pred)`` ``(B, L)`` int64 hard sequences (argmax or a draw of ``pred``), so value guidance
  (SVDD, SMC, best-of-N) works on this model unchanged; ``is_clean`` marks rows that are one-hot vertices.
- ``decode`` accepts ids or simplex states.

Class-conditional training drops labels with probability ``cond_dropout`` (one network gives the conditional
and unconditional predictions that :class:`~seqguide.guidance.DiscreteCFG` mixes).

Example:
    >>> from seqguide.models import GumbelSoftmaxFlow, ConvDenoiser
    >>> model = GumbelSoftmaxFlow("dna", length=26, backbone=ConvDenoiser(dim=32, depth=2), fixed_length=True)
    >>> x = model.prior(4)                      # (4, 26, 4) points on the simplex
    >>> bool(torch.allclose(x.sum(-1), torch.ones(4, 26)))
    True
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import torch
import torch.nn.functional as F

from seqguide.alphabet import Alphabet, get_alphabet
from seqguide.models.backbones import Backbone, TransformerDenoiser, resolve_backbone
from seqguide.models.protocol import Cond, predict_branches
from seqguide.models.sequence_model import SequenceModel
from seqguide.models.simplex_path import GumbelSoftmaxPath

__all__ = ["GumbelSoftmaxFlow", "SimplexProcess"]

#: Validation seed offset: the same noise every validation pass (comparable curves).
_VAL_SEED = 4321


class SimplexProcess:
    """The sampling process of a simplex flow, shared by :class:`GumbelSoftmaxFlow` and the exact toy
    :class:`~seqguide.models.toy.ExactSimplexModel`: everything but the denoiser.

    A subclass provides ``path`` (:class:`GumbelSoftmaxPath`), ``alphabet``, ``length``, ``num_tokens`` (K),
    ``device`` and ``predict``; ``eta`` (in [0, 1]) chooses the ODE or the ancestral step.
    """

    path: GumbelSoftmaxPath
    alphabet: Alphabet
    length: int
    num_tokens: int
    #: The velocity depends on t: predictions are never reused across times.
    time_conditioned = True

    @property
    def eta(self) -> float:
        return self._eta

    @eta.setter
    def eta(self, value: float) -> None:
        if not 0.0 <= float(value) <= 1.0:
            raise ValueError(f"eta must be in [0, 1], got {value}")
        self._eta = float(value)

    def prior(
        self, n: int, length: int | None = None, *, generator: torch.Generator | None = None,
        device: torch.device | str | None = None,
    ) -> torch.Tensor:
        """Gumbel-softmax noise ``(n, length, K)`` float32 on the simplex (t = 1)."""
        length = self.length if length is None else length
        if length > self.length:
            raise ValueError(f"length {length} exceeds the model's length {self.length}")
        return self.path.prior((n, length, self.num_tokens), generator=generator, device=device or self.device)

    def _check_state(self, state: torch.Tensor) -> None:
        if state.dim() != 3 or state.shape[-1] != self.num_tokens or not state.is_floating_point():
            raise ValueError(f"state must be (B, L, {self.num_tokens}) float points on the simplex, got "
                             f"{tuple(state.shape)} {state.dtype}")

    def velocity(self, state: torch.Tensor, pred: torch.Tensor, t: float) -> torch.Tensor:
        """Marginal velocity ``d x / d tau`` (toward the data) from the prediction: ``(B, L, K)``, rows sum to 0."""
        return self.path.velocity(state, pred.exp(), t)

    def step(
        self, state: torch.Tensor, pred: torch.Tensor, t: float, s: float,
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        """One flow step from t to s < t (``eta``: ODE or ancestral, see the module docstring); at ``s = 0`` the
        result is read out as the one-hot argmax vertex.

        Args:
            state: ``(B, L, K)`` points on the simplex.
            pred: ``(B, L, K)`` log-probabilities of the clean tokens.
        """
        nxt = self.path.step(state, pred.exp(), t, s, eta=self.eta, generator=generator)
        if s <= 0.0:
            nxt = F.one_hot(nxt.argmax(dim=-1), self.num_tokens).to(nxt.dtype)
        return nxt

    def x0_estimate(
        self, state: torch.Tensor, pred: torch.Tensor, *, generator: torch.Generator | None = None,
        sample: bool = False,
    ) -> torch.Tensor:
        """Hard sequences ``(B, L)`` int64: the argmax (or a draw, ``sample=True``) of ``pred``; rows that are
        already vertices keep their tokens."""
        if sample:
            flat = pred.exp().reshape(-1, pred.shape[-1]).float()
            fill = torch.multinomial(flat, 1, generator=generator).view(pred.shape[:-1])
        else:
            fill = pred.argmax(dim=-1)
        clean = self.is_clean(state)
        return torch.where(clean[:, None], state.argmax(dim=-1), fill)

    def is_clean(self, state: torch.Tensor) -> torch.Tensor:
        """``(B,)`` bool: rows whose every position is a vertex (one-hot), i.e. read-out sequences."""
        return ((state == 0) | (state == 1)).all(dim=-1).all(dim=-1)

    def decode(self, clean: torch.Tensor) -> list[str]:
        """Token ids ``(B, L)`` or simplex states ``(B, L, K)`` (argmax) to strings (pad dropped)."""
        ids = clean.argmax(dim=-1) if clean.is_floating_point() else clean
        return self.alphabet.decode(ids)

    def soft_tokens(self, probs: torch.Tensor) -> torch.Tensor:
        """Probabilities over the K simplex tokens ``(..., K)`` as probabilities over the alphabet's full
        vocabulary ``(..., vocab_size)`` (zeros for the ids the simplex leaves out), e.g. for a surrogate."""
        pad = self.alphabet.vocab_size - self.num_tokens
        return F.pad(probs, (0, pad))


class GumbelSoftmaxFlow(SimplexProcess, SequenceModel):
    """Gumbel-Softmax flow matching as a LightningModule and a sampling process.

    Args:
        alphabet: The token alphabet (preset name, token list, ``Alphabet.to_dict()`` dict or Alphabet).
        length: Sequence length L.
        backbone: An unbuilt :class:`~seqguide.models.backbones.Backbone` (built here with time conditioning and
            K = number of allowed tokens as its vocabulary) or its ``spec()`` dict. Default ``TransformerDenoiser()``.
        num_classes: Number of class labels for a conditional model (0: unconditional).
        cond_dropout: Probability of replacing a label by the null class during training (CFG training).
        fixed_length: Every sequence has ``length`` tokens: the simplex is over the regular tokens only. Otherwise
            pad is one more vertex (a sequence ends where pad begins).
        tau_max: Temperature at the noise end (10, the value quoted for the paper).
        decay: Exponential decay rate of the temperature (3, as quoted for the paper).
        beta: Noise scale of the Gumbel logits, ``g / (beta tau_max)`` (2, as quoted for the paper's interpolant).
        eta: Stochasticity of :meth:`step` in [0, 1]: 0 = ODE step, 1 = ancestral step (see the module docstring).
            A sampling option, also settable as ``model.eta``.
        lr: AdamW learning rate.
        weight_decay: AdamW weight decay.
        warmup_steps: Linear learning-rate warm-up.

    Raises:
        ValueError: for an argument out of range (named in the message).
    """

    checkpoint_keys: ClassVar[frozenset[str]] = frozenset({"tau_max", "decay", "beta"})
    monitor: ClassVar[str] = "val/ce"

    def __init__(
        self,
        alphabet: str | list[str] | dict[str, Any] | Alphabet = "dna",
        length: int = 32,
        backbone: Backbone | dict[str, Any] | None = None,
        num_classes: int = 0,
        cond_dropout: float = 0.1,
        fixed_length: bool = False,
        tau_max: float = 10.0,
        decay: float = 3.0,
        beta: float = 2.0,
        eta: float = 0.0,
        lr: float = 3e-4,
        weight_decay: float = 0.0,
        warmup_steps: int = 100,
    ) -> None:
        super().__init__()
        if length < 1:
            raise ValueError(f"length must be >= 1, got {length}")
        if num_classes < 0:
            raise ValueError(f"num_classes must be >= 0, got {num_classes}")
        if not 0.0 <= cond_dropout <= 1.0:
            raise ValueError(f"cond_dropout must be in [0, 1], got {cond_dropout}")
        self.path = GumbelSoftmaxPath(tau_max=tau_max, decay=decay, beta=beta)  # validates its arguments
        self.alphabet = get_alphabet(alphabet)
        self.length = length
        self.num_classes = num_classes
        self.fixed_length = fixed_length
        #: K: simplex dimension; token index i is alphabet id i (pad = alphabet.size is last when allowed).
        self.num_tokens = self.alphabet.size + (0 if fixed_length else 1)
        self.eta = eta
        backbone = resolve_backbone(backbone, TransformerDenoiser)
        backbone.build(vocab_size=self.num_tokens, length=length, num_classes=num_classes, time_conditioning=True)
        self.backbone = backbone
        self.save_hyperparameters(ignore=["backbone", "alphabet"])
        # Plain data only, so checkpoints load with torch.load(weights_only=True).
        self.hparams["alphabet"] = self.alphabet.to_dict()
        self.hparams["backbone"] = backbone.spec()

    # ------------------------------------------------------------------ network
    def _logits(self, x: torch.Tensor, t: torch.Tensor | float, labels: torch.Tensor | None) -> torch.Tensor:
        """Network call on soft tokens: log p(x_1 | x_t) ``(B, L, K)`` float32."""
        t_in = torch.as_tensor(t, dtype=torch.float32, device=x.device).expand(x.shape[0])
        return self.backbone(x, t_in, labels).float().log_softmax(dim=-1)

    def predict(self, state: torch.Tensor, t: float | torch.Tensor, cond: Cond = None):
        """One network call: clean-token log-probabilities ``(B, L, K)``.

        Args:
            state: ``(B, L, K)`` points on the simplex.
            t: Loop time (float or ``(B,)``).
            cond: None (unconditional), labels ``(B,)``, or ``{branch: labels or None}`` (one batched forward
                for all branches, returning ``{branch: (B, L, K)}``).
        """
        self._check_state(state)
        if isinstance(cond, dict):
            def forward(x: torch.Tensor, y: torch.Tensor | None) -> torch.Tensor:
                tt = t.repeat(x.shape[0] // t.shape[0]) if isinstance(t, torch.Tensor) and t.dim() == 1 else t
                return self._logits(x, tt, y)

            return predict_branches(forward, state, cond, self.num_classes)
        labels = None
        if cond is not None:
            labels = torch.as_tensor(cond, dtype=torch.long, device=state.device).expand(state.shape[0])
        return self._logits(state, t, labels)


    # ------------------------------------------------------------------ training
    def forward(self, x: torch.Tensor, t: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        return self._logits(x, t, labels)

    def noisy(self, x0: torch.Tensor, t: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """The path's ``x_t ~ p_t(. | x_0)`` for clean ids ``x0 (B, L)`` at loop times ``t (B,)``: ``(B, L, K)``."""
        return self.path.sample(x0, t, self.num_tokens, generator=generator)

    def loss(self, x0: torch.Tensor, labels: torch.Tensor | None = None,
             generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Cross-entropy of the denoiser on the clean tokens, in nats per token, and the same loss of the exact
        noise-only posterior (uniform prior; what a network that learned nothing about the data would reach).

        Args:
            x0: ``(B, L)`` clean token ids.

        Returns:
            ``(ce, ce_noise_only)``: two ``(B,)`` tensors, per-sequence means over positions.
        """
        B = x0.shape[0]
        u = torch.rand(1, device=x0.device, generator=generator)
        t = (u + torch.arange(B, device=x0.device) / B) % 1.0  # antithetic times in [0, 1)
        xt = self.noisy(x0, t, generator)
        logp = self._logits(xt, t, labels)
        ce = F.nll_loss(logp.transpose(1, 2), x0, reduction="none").mean(dim=1)
        with torch.no_grad():
            base = self.path.posterior(xt, t[:, None])  # (B, L, K) float64
            ce_noise = -base.gather(-1, x0.unsqueeze(-1)).squeeze(-1).mean(dim=1).float()
        return ce, ce_noise

    def _common_step(self, batch: dict[str, torch.Tensor], stage: str) -> torch.Tensor:
        x0 = batch["tokens"].long()
        if x0.shape[1] != self.length:
            raise ValueError(f"batch length {x0.shape[1]} != model length {self.length}")
        if self.fixed_length and (x0 >= self.num_tokens).any():
            raise ValueError("a batch holds pad (or mask) ids but the model is fixed_length: train with "
                             "fixed_length=False on variable-length data")
        gen = None
        if stage != "train":  # the same times and noise every validation pass
            gen = torch.Generator(device=x0.device).manual_seed(_VAL_SEED + int(x0[:, 0].sum()))
        ce, ce_noise = self.loss(x0, self._labels(batch, stage == "train"), gen)
        ce = ce.mean()
        n = x0.shape[0]
        self.log(f"{stage}/ce", ce, prog_bar=True, batch_size=n)
        self.log(f"{stage}/ce_noise_only", ce_noise.mean(), batch_size=n)
        self.log(f"{stage}/bpt", ce / math.log(2.0), batch_size=n)
        return ce
