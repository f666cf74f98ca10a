"""MaskedDiffusion: absorbing-state discrete diffusion (MDLM; Sahoo et al. 2024, arXiv 2406.07524).

Forward process: each token is independently replaced by ``<mask>`` with probability ``1 - alpha(t)``.
The network predicts the clean token at every position (the x0-parameterisation) with the SUBS
constraints of MDLM §3.2: the mask token gets zero probability and unmasked tokens are carried over.

Training minimises the continuous-time negative ELBO (MDLM eq. 10):

    L = E_{t ~ U(0,1)} E_{x_t ~ q(.|x_0)} [ -alpha'(t) / (1 - alpha(t)) * sum_{l: x_t^l = mask} -log p(x_0^l | x_t) ]

reported per token (nats; ``val/bpt`` in bits), with antithetic sampling of t.

The reverse step from t to s < t (MDLM eq. 7): at a masked position, stay masked with probability
``(1 - alpha_s) / (1 - alpha_t)``, else draw the token from ``p(x_0 | x_t)``.

Example:
    >>> from seqguide.models import MaskedDiffusion, TransformerDenoiser
    >>> model = MaskedDiffusion("dna", length=26, backbone=TransformerDenoiser(dim=64, depth=2))
    >>> x = model.prior(4)                      # (4, 26) all mask ids
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import torch

from seqguide.alphabet import Alphabet, get_alphabet
from seqguide.models.backbones import Backbone, TransformerDenoiser, resolve_backbone
from seqguide.models.gumbel import gumbel_argmax, gumbel_from_uniform
from seqguide.models.protocol import Cond, predict_branches
from seqguide.models.schedules import get_schedule
from seqguide.models.sequence_model import SequenceModel

__all__ = ["MaskedDiffusion"]

NEG_INF = float("-inf")


class MaskedDiffusion(SequenceModel):
    """Masked (absorbing-state) discrete diffusion as a LightningModule and a sampling process.

    Args:
        alphabet: The token alphabet (preset name, token list, ``Alphabet.to_dict()`` dict or Alphabet).
        length: Sequence length L the model generates (and the backbone's positional size).
        backbone: An unbuilt :class:`~seqguide.models.backbones.Backbone` (built here for this alphabet),
            or its ``spec()`` dict. Default: ``TransformerDenoiser()``.
        schedule: ``"loglinear"`` (MDLM) or ``"cosine"``.
        num_classes: Number of class labels for a conditional model (0: unconditional).
        cond_dropout: Probability of replacing a label by the null class during training (CFG training).
        time_conditioning: Feed t to the network. MDLM does not (the mask count reveals t), which lets
            the sampler reuse predictions across steps that change nothing.
        fixed_length: Forbid the pad token (data whose sequences all have ``length`` tokens), as SUBS
            forbids the mask token; variable-length models generate pad to end a sequence.
        lr: AdamW learning rate.
        weight_decay: AdamW weight decay.
        warmup_steps: Linear learning-rate warm-up.
        t_eps: Smallest training time (keeps the 1/t ELBO weight finite).
    """

    checkpoint_keys: ClassVar[frozenset[str]] = frozenset({"schedule", "time_conditioning", "t_eps"})
    #: Draw the Gumbel noise of a reverse step at every position (the default, and the stream every recorded sample
    #: was drawn with); False draws it only where a token is revealed (same distribution, different samples per
    #: seed, less work on CPU; it selects positions with a boolean mask, a host sync per step on CUDA). Set on an
    #: instance; not saved in checkpoints.
    noise_everywhere: bool = True
    #: With ``noise_everywhere`` on the CPU, transform the recorded uniforms only where a token is revealed (the
    #: same tokens, less work); False runs the full transform, the path a GPU takes. Set on an instance.
    cpu_shortcuts: bool = True
    #: :meth:`predict` runs the network only on rows that hold a mask (the others' prediction is their own tokens,
    #: exactly). Off by default: finding those rows is a host sync per step, which stalls a CUDA stream; turn it on
    #: for CPU design loops whose refills leave most rows clean.
    skip_clean_rows: bool = False
    monitor: ClassVar[str] = "val/nll"

    def __init__(
        self,
        alphabet: str | list[str] | dict[str, Any] | Alphabet = "dna",
        length: int = 32,
        backbone: Backbone | dict[str, Any] | None = None,
        schedule: str = "loglinear",
        num_classes: int = 0,
        cond_dropout: float = 0.1,
        time_conditioning: bool = False,
        fixed_length: bool = False,
        lr: float = 3e-4,
        weight_decay: float = 0.0,
        warmup_steps: int = 100,
        t_eps: float = 1e-3,
    ) -> None:
        super().__init__()
        if length < 1:
            raise ValueError(f"length must be >= 1, got {length}")
        if num_classes < 0:
            raise ValueError(f"num_classes must be >= 0, got {num_classes}")
        if not 0.0 <= cond_dropout <= 1.0:
            raise ValueError(f"cond_dropout must be in [0, 1], got {cond_dropout}")
        if not 0.0 < t_eps < 1.0:
            raise ValueError(f"t_eps must be in (0, 1), got {t_eps}")
        self.alphabet = get_alphabet(alphabet)
        backbone = resolve_backbone(backbone, TransformerDenoiser)
        backbone.build(vocab_size=self.alphabet.vocab_size, length=length, num_classes=num_classes,
                       time_conditioning=time_conditioning)
        self.backbone = backbone
        self.schedule = get_schedule(schedule)
        self.length = length
        self.num_classes = num_classes
        self.time_conditioned = time_conditioning
        self.mask_id = self.alphabet.mask_id
        self.fixed_length = fixed_length
        self._shared_noise: tuple[int, int, torch.Generator] | None = None  # set under DDP (on_train_start)
        self.save_hyperparameters(ignore=["backbone", "alphabet"])
        # Plain data only, so checkpoints load with torch.load(weights_only=True).
        self.hparams["alphabet"] = self.alphabet.to_dict()
        self.hparams["backbone"] = backbone.spec()

    # ------------------------------------------------------------------ process protocol
    def prior(
        self, n: int, length: int | None = None, *, generator: torch.Generator | None = None,
        device: torch.device | str | None = None,
    ) -> torch.Tensor:
        """All-mask state ``(n, length)`` int64 (t = 1)."""
        length = self.length if length is None else length
        if length > self.length:
            raise ValueError(f"length {length} exceeds the model's length {self.length}")
        return torch.full((n, length), self.mask_id, dtype=torch.long, device=device or self.device)

    def _logits(self, x: torch.Tensor, t: torch.Tensor | float, labels: torch.Tensor | None,
                skip_clean: bool = False) -> torch.Tensor:
        """Network call + SUBS parameterisation: log p(x0 | x_t) ``(B, L, V)`` float32 (``skip_clean``: see
        :meth:`_network`)."""
        t_in = None
        if self.time_conditioned:
            t_in = torch.as_tensor(t, dtype=torch.float32, device=x.device).expand(x.shape[0])
        logits = self._network(x, t_in, labels, skip_clean)
        logits[..., self.mask_id] = NEG_INF  # zero masking probability
        if self.fixed_length:
            logits[..., self.alphabet.pad_id] = NEG_INF
        logp = logits.log_softmax(dim=-1)
        # Carry-over: an unmasked token is its own clean value with certainty.
        unmasked = x != self.mask_id
        carried = torch.full_like(logp, NEG_INF).scatter_(-1, x.unsqueeze(-1), 0.0)
        return torch.where(unmasked.unsqueeze(-1), carried, logp)

    def _network(self, x: torch.Tensor, t: torch.Tensor | None, labels: torch.Tensor | None,
                 skip_clean: bool) -> torch.Tensor:
        """Backbone logits ``(B, L, V)`` float32. With ``skip_clean`` (and :attr:`skip_clean_rows`) only the rows
        that still hold a mask are run: a row without one is carried over whole by the SUBS parameterisation, so
        its logits are never read (zeros stand in) and its prediction is exact without the network."""
        if not (skip_clean and self.skip_clean_rows):
            return self.backbone(x, t, labels).float()
        active = (x == self.mask_id).any(dim=-1)
        n_active = int(active.sum())
        if n_active == x.shape[0]:
            return self.backbone(x, t, labels).float()
        logits = torch.zeros(*x.shape, self.alphabet.vocab_size, device=x.device)
        if n_active:
            logits[active] = self.backbone(x[active], None if t is None else t[active],
                                           None if labels is None else labels[active]).float()
        return logits

    def predict(self, state: torch.Tensor, t: float | torch.Tensor, cond: Cond = None):
        """One network call: clean-token log-probabilities ``(B, L, V)``.

        Args:
            state: ``(B, L)`` int64 noisy tokens.
            t: Time (float or ``(B,)``); ignored unless the model is time-conditioned.
            cond: None (unconditional), labels ``(B,)``, or ``{branch: labels or None}``; the dict form
                runs all branches as one batched forward and returns ``{branch: (B, L, V)}``.
        """
        if isinstance(cond, dict):
            return predict_branches(lambda x, y: self._logits(x, self._expand_t(t, x), y, True), state, cond,
                                    self.num_classes)
        labels = None
        if cond is not None:
            labels = torch.as_tensor(cond, dtype=torch.long, device=state.device).expand(state.shape[0])
        return self._logits(state, t, labels, True)

    @staticmethod
    def _expand_t(t: float | torch.Tensor, x: torch.Tensor) -> torch.Tensor | float:
        if isinstance(t, torch.Tensor) and t.dim() == 1 and t.shape[0] != x.shape[0]:
            return t.repeat(x.shape[0] // t.shape[0])
        return t

    def step(
        self, state: torch.Tensor, pred: torch.Tensor, t: float, s: float,
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        """Reverse step t -> s: reveal each masked token with probability
        ``(alpha_s - alpha_t) / (1 - alpha_t)``, drawing it from ``softmax(pred)``.

        Args:
            state: ``(B, L)`` int64.
            pred: ``(B, L, V)`` log-probabilities of the clean tokens.
        """
        p_reveal = float(self.schedule.unmask_probability(t, s))
        masked = state == self.mask_id
        u = torch.rand(state.shape, generator=generator, device=state.device)
        reveal = masked & (u < p_reveal)
        if not reveal.any():
            return state
        return self._fill(state, pred, reveal, generator)

    def x0_estimate(
        self, state: torch.Tensor, pred: torch.Tensor, *, generator: torch.Generator | None = None,
        sample: bool = False,
    ) -> torch.Tensor:
        """Fill masked positions with the argmax (or a draw, ``sample=True``) of ``pred``; keep the rest."""
        masked = state == self.mask_id
        if sample:
            return self._fill(state, pred, masked, generator)
        return torch.where(masked, pred.argmax(dim=-1), state)

    def _fill(self, state: torch.Tensor, pred: torch.Tensor, where: torch.Tensor,
              generator: torch.Generator | None) -> torch.Tensor:
        """``state`` with a draw from ``softmax(pred)`` at the positions ``where`` (Gumbel-max). The noise is drawn
        for those positions only, in row-major order; ``noise_everywhere`` draws it for every position, the random
        stream of seqguide up to commit 67c259c (before issue 23), to reproduce earlier samples."""
        if self.noise_everywhere:
            if state.device.type != "cpu" or not self.cpu_shortcuts:
                return torch.where(where, gumbel_argmax(pred, generator), state)
            # The same uniform draw for every position (the recorded stream), transformed and compared only where
            # a token is revealed: the same tokens, without the logarithms and argmax of the other positions.
            u = torch.rand(pred.shape, generator=generator, device=pred.device, dtype=torch.float32)
            out = state.clone()
            out[where] = (pred[where] + gumbel_from_uniform(u[where])).argmax(dim=-1)
            return out
        out = state.clone()
        out[where] = gumbel_argmax(pred[where], generator)
        return out

    def is_clean(self, state: torch.Tensor) -> torch.Tensor:
        """``(B,)`` bool: rows with no masked position (their x0 estimate is the state itself)."""
        return (state != self.mask_id).all(dim=-1)

    def decode(self, clean: torch.Tensor) -> list[str]:
        """Token ids ``(B, L)`` to strings (pad dropped, masks shown as '?')."""
        return self.alphabet.decode(clean)

    # ------------------------------------------------------------------ training
    def forward(self, x: torch.Tensor, t: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        return self._logits(x, t, labels)

    def q_xt(self, x0: torch.Tensor, t: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """Forward process: mask each token of ``x0 (B, L)`` with probability ``1 - alpha(t)``."""
        move = 1.0 - self.schedule.alpha(t)[:, None]
        u = torch.rand(x0.shape, device=x0.device, generator=generator)
        return torch.where(u < move, torch.full_like(x0, self.mask_id), x0)

    def _sample_t(self, n: int, device: torch.device, generator: torch.Generator | None = None) -> torch.Tensor:
        """Antithetic times in [t_eps, 1] (MDLM ``_sample_t``): lower-variance ELBO estimates.

        Under DDP (see :meth:`on_train_start`) the grid spans the global batch: process r of W takes points
        ``r * n .. r * n + n - 1`` of one grid of ``W * n`` with a shared offset, as one process with batch
        ``W * n`` would.
        """
        rank, world = 0, 1
        if generator is None and self._shared_noise is not None:
            rank, world, generator = self._shared_noise
        u = torch.rand(1, device=device, generator=generator)
        t = (u + (rank * n + torch.arange(n, device=device)) / (world * n)) % 1.0
        return self.hparams.t_eps + (1.0 - self.hparams.t_eps) * t

    def on_train_start(self) -> None:
        """Under DDP/FSDP, give each process its own noise (masks, label dropout, dropout) and one shared stream
        for the antithetic time grid; with the same seed on every rank they would all draw the same masks.
        One process: nothing changes (the global generator as seeded by the user)."""
        self._shared_noise = None
        trainer = self._trainer
        if trainer is None or trainer.world_size <= 1:
            return
        seed = int(trainer.strategy.broadcast(torch.initial_seed() % 2**63, src=0))
        shared = torch.Generator(device=self.device).manual_seed(seed)
        self._shared_noise = (trainer.global_rank, trainer.world_size, shared)
        torch.manual_seed(seed + 1 + trainer.global_rank)

    def on_train_end(self) -> None:
        self._shared_noise = None

    def nll(
        self, x0: torch.Tensor, labels: torch.Tensor | None = None, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        """Per-sequence ELBO estimate of the NLL, in nats per token: ``(B,)``."""
        t = self._sample_t(x0.shape[0], x0.device, generator)
        xt = self.q_xt(x0, t, generator)
        logp = self._logits(xt, t, labels)
        token_nll = -logp.gather(-1, x0.unsqueeze(-1)).squeeze(-1)
        masked = xt == self.mask_id
        token_nll = torch.where(masked, token_nll, torch.zeros_like(token_nll))
        return self.schedule.loss_weight(t) * token_nll.sum(dim=-1) / x0.shape[1]

    def _common_step(self, batch: dict[str, torch.Tensor], stage: str) -> torch.Tensor:
        x0 = batch["tokens"]
        if x0.shape[1] != self.length:
            raise ValueError(f"batch length {x0.shape[1]} != model length {self.length}")
        gen = None
        if stage != "train":  # the same masks every validation pass: comparable curves
            gen = torch.Generator(device=x0.device).manual_seed(1234 + int(x0[:, 0].sum()))
        nll = self.nll(x0, self._labels(batch, stage == "train"), gen).mean()
        # Under DDP/FSDP each process sees a shard: validation metrics (which pick the best checkpoint) are
        # averaged over processes; the per-step training loss stays local (no all-reduce every step).
        sync = stage != "train"
        self.log(f"{stage}/nll", nll, prog_bar=True, batch_size=x0.shape[0], sync_dist=sync)
        self.log(f"{stage}/bpt", nll / math.log(2.0), batch_size=x0.shape[0], sync_dist=sync)
        return nll

