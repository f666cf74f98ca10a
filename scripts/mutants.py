"""Break the code on purpose, one line at a time, and check that a test notices (mutation testing by hand).

Each mutant names a file, a line of it (exact text, once in the file), its replacement, and the tests that must
fail with it. The script applies one mutant, runs those tests, restores the file, and reports whether the tests
caught it; it exits non-zero if any mutant survives.

    python scripts/mutants.py                 # every mutant
    python scripts/mutants.py layout moved    # the mutants whose name contains one of these words
    python scripts/mutants.py --list

Add a mutant with every behaviour you add: the one-line change that would most plausibly slip through (a sign, a
weight, a key, a dropped call), and the tests that guard it.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Mutant:
    """One line of ``path`` replaced: ``old`` (which occurs exactly once) by ``new``."""

    name: str
    path: str
    old: str
    new: str
    tests: tuple[str, ...]
    why: str


MUTANTS = [
    Mutant("moved: the warning is not a DeprecationWarning", "seqguide/moved.py",
           '"package)", DeprecationWarning, stacklevel=_caller_stacklevel())',
           '"package)", UserWarning, stacklevel=_caller_stacklevel())',
           ("tests/test_layout.py::test_moved_module_paths_still_import_with_a_warning",),
           "an old module path must say where it went, as a deprecation (filtered like one)"),
    Mutant("moved: old path is an empty module", "seqguide/moved.py",
           "        sys.modules[module.__name__] = importlib.import_module(self.new)",
           "        importlib.import_module(self.new)",
           ("tests/test_layout.py::test_moved_module_paths_still_import_with_a_warning",),
           "an old module path must give the module at its new place"),
    Mutant("layout: circle check skips function-level imports", "tests/test_layout.py",
           "        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):",
           "        for node in ast.parse(path.read_text(), filename=str(path)).body:",
           ("tests/test_layout.py::test_the_circle_check_sees_type_checking_and_function_imports",),
           "a circle closed inside a function or under TYPE_CHECKING is still a circle"),
    Mutant("layout: an import circle between the guider core and the sampling context",
           "seqguide/sampling/guider_context.py",
           "from typing import Any, Protocol",
           "from typing import Any, Protocol\n\nfrom seqguide.sampling import context  # noqa: F401",
           ("tests/test_layout.py::test_no_import_circle_between_files",),
           "guider_context.py is the lower file that keeps base.py and context.py apart"),
    Mutant("layout: size limit off by a lot", "tests/test_layout.py",
           "MAX_LINES = 500",
           "MAX_LINES = 50",
           ("tests/test_layout.py::test_no_oversized_file_without_a_reason",),
           "the check must see the files that are over the limit"),
    Mutant("lazy: lazy names resolve to the wrong attribute", "seqguide/lazy.py",
           "            return getattr(importlib.import_module(table[name]), name)",
           "            return importlib.import_module(table[name])",
           ("tests/test_layout.py::test_every_import_path_in_readme_docs_and_configs_resolves",
            "tests/core/test_models.py"),
           "seqguide.models and seqguide.training export classes, not their modules"),
    Mutant("lazy: a name listed but not in the lazy table", "seqguide/models/__init__.py",
           '    "load_model": "seqguide.models.loading",\n',
           "",
           ("tests/test_layout.py::test_every_package_exports_what_its_all_lists",),
           "every name seqguide.models lists must import"),
    Mutant("lazy: a light module imports Lightning", "seqguide/models/devices.py",
           "import torch\n",
           "import lightning  # noqa: F401\nimport torch\n",
           ("tests/test_layout.py::test_the_light_packages_do_not_load_lightning",),
           "import seqguide must not load Lightning (the CLI's start-up time)"),
    Mutant("loading: another model's checkpoint loads as this one", "seqguide/models/sequence_model.py",
           "        if isinstance(name, str) and name != cls.__name__ and name not in _subclasses(cls):",
           "        if False:",
           ("tests/core/test_models.py::test_another_models_checkpoint_is_named_even_when_its_class_was_never_imported",),
           "MaskedDiffusion.load of a GumbelSoftmaxFlow checkpoint names the class it holds"),
    Mutant("labels: label dropout never drops", "seqguide/models/lightning_steps.py",
           "            drop = torch.rand(y.shape, device=y.device) < self.hparams.cond_dropout",
           "            drop = torch.rand(y.shape, device=y.device) < 0.0",
           ("tests/continuous/test_image_models.py::test_label_dropout_trains_the_null_class",),
           "classifier-free training needs the null class in training batches"),
    # issue 20 item 4 (PMO fidelity: graph GA as mol_opt's, free invalid molecules, code-hashed cells, Ehrlich GA start)
    Mutant("pmo: crossover never cuts rings", "seqguide/baselines/mol_edits.py",
           "        op = non_ring_crossover if (not ring or rng.random() <= 0.5) else ring_crossover",
           "        op = non_ring_crossover",
           ("tests/baselines/test_graph_ga.py::test_crossover_children_are_new_valid_molecules_and_the_ring_switch_works",),
           "Jensen's crossover is ring or non-ring with probability 1/2"),
    Mutant("pmo: the ring filter lets 7-membered rings through", "seqguide/baselines/mol_edits.py",
           "    if max(len(r) for r in rings) > 6:",
           "    if max(len(r) for r in rings) > 7:",
           ("tests/baselines/test_graph_ga.py::test_ring_ok_is_jensens_ring_filter",),
           "mol_opt's ring_OK rejects any ring of more than 6 atoms"),
    Mutant("pmo: invalid molecules are charged", "seqguide/baselines/history.py",
           "        err = self.check(x)",
           "        err = None",
           ("tests/benchmarks/test_design_pmo.py::test_unreadable_molecules_are_free_and_unrecorded",),
           "mol_opt does not count a molecule RDKit cannot read; design_pmo follows it for every method"),
    Mutant("pmo: the cell fingerprint ignores the code", "benchmarks/cells.py",
           "            data[\"code\"] = code_digest(self.code)",
           "            data[\"code\"] = list(self.code)",
           ("tests/benchmarks/test_design_pmo.py::test_cell_digest_follows_the_code_it_names",
            "tests/benchmarks/test_design_pmo.py::test_a_stale_code_cell_is_recomputed"),
           "a cell computed by older code must be recomputed, not mixed with fresh ones"),
    Mutant("pmo: an early stop is not padded to the budget", "seqguide/baselines/history.py",
           "    area += (budget - n) * prev",
           "    area += 0.0",
           ("tests/baselines/test_graph_ga.py::test_early_stop_after_patience_and_the_auc_is_held_flat_to_the_budget",),
           "PMO holds the top-k curve flat at its last value up to the budget after an early stop"),
    Mutant("pmo: the GA never stops early", "seqguide/baselines/graph_ga.py",
           "                if self.patience is not None and waiting >= self.patience:",
           "                if False:",
           ("tests/baselines/test_graph_ga.py::test_early_stop_after_patience_and_the_auc_is_held_flat_to_the_budget",),
           "mol_opt's graph GA stops after 5 generations without progress of the top-100 mean"),
    Mutant("pmo: the default plan has 2 seeds", "benchmarks/design_pmo.py",
           "SEEDS = (0, 1, 2, 3, 4)  # PMO's 5 seeds",
           "SEEDS = (0, 1)",
           ("tests/benchmarks/test_design_pmo.py::test_default_plan_runs_every_method_on_every_task_with_5_seeds",),
           "PMO reports 5 seeds per task"),
    Mutant("pmo: the TDC-scored tasks counted as comparable", "benchmarks/pmo_tasks.py",
           "COMPARABLE = tuple(t for t in PMO_TASKS if t not in TDC_SCORED)",
           "COMPARABLE = tuple(PMO_TASKS)",
           ("tests/benchmarks/test_design_pmo.py::test_published_numbers_sum_to_pmos_16_task_sums",),
           "only 16 of the 20 tasks can be compared with PMO's published numbers"),
    Mutant("pmo: the Ehrlich GA starts from holo's single initial solution", "benchmarks/design_ehrlich.py",
           "        run = ga.run(BudgetedObjective(f, budget=budget), seed=seed, initial=start)",
           "        run = ga.run(BudgetedObjective(f, budget=budget), seed=seed, initial=f.initial_solution())",
           ("tests/benchmarks/test_design_pmo.py::test_ehrlich_ga_starts_from_the_models_training_samples",),
           "the GA starts from the 2,000 DMP samples the infill model is trained on"),
    Mutant("pmo: the molsets wheel is not hash-checked", "seqguide/data/moses_data.py",
           "        if digest != sha256:",
           "        if False:",
           ("tests/data/test_moses_data.py::test_extract_copies_the_three_files_and_checks_the_hash",),
           "a downloaded wheel is used only if it is the one pinned"),
    # issue 23 (speed): rotary pairing, Gumbel sign, overdraw, validation cache key
    Mutant("i23: rotary pairs channels (i, i + Dh/2)", "seqguide/models/backbones.py",
           "z = torch.view_as_complex(work.unflatten(-1, (-1, 2)))",
           "z = torch.view_as_complex(work.unflatten(-1, (2, -1)).transpose(-1, -2).contiguous())",
           ("tests/core/test_backbone_speed.py",), "the old pairing (2i, 2i + 1) must be kept"),
    Mutant("i23: Gumbel noise subtracted", "seqguide/models/gumbel.py",
           "return (logp + gumbel_noise(", "return (logp - gumbel_noise(",
           ("tests/core/test_backbone_speed.py",), "the sign of the noise decides the distribution"),
    Mutant("i23: overdraw ignores duplicates", "seqguide/design/candidates.py",
           "OVERDRAW_MARGIN / max(share, MIN_FRESH_SHARE)", "OVERDRAW_MARGIN / 1.0",
           ("tests/design/test_speed_loop.py",), "a draw must be sized for the duplicate rate"),
    Mutant("i23: validation memo keyed by length", "oracles/base.py",
           "            memo[x] = reason", "            memo[len(x)] = reason",
           ("tests/design/test_speed_loop.py",), "the memo must be keyed by the whole string"),

    # issue 20 item 1: online fine-tuning of the generator (seqguide.design.finetune)
    Mutant("finetune: advantage baseline dropped", "seqguide/design/finetune_losses.py",
           "    a = w - w.mean()", "    a = w.copy()",
           ("tests/design/test_finetune.py::test_rank_advantages_follow_the_rewards_and_vanish_when_equal",),
           "advantages are centred: only reward differences move the model"),
    Mutant("finetune: equal-reward guard dropped too", "seqguide/design/finetune_losses.py",
           "    if float(r.max()) == float(r.min()):", "    if False:",
           ("tests/design/test_finetune.py::test_equal_rewards_leave_the_model_unchanged_bit_for_bit",),
           "float noise in std must not become an advantage"),
    Mutant("finetune: anchor sign flipped", "seqguide/design/finetune.py",
           "            loss = loss + s.anchor * kl", "            loss = loss - s.anchor * kl",
           ("tests/design/test_finetune.py::test_the_anchor_has_zero_gradient_at_the_reference_and_pulls_towards_it",),
           "the anchor must pull towards the pretrained model"),
    Mutant("finetune: checkpoint written in place", "seqguide/design/finetune.py",
           '    tmp = path.with_name(f".{path.name}.tmp")', "    tmp = path",
           ("tests/design/test_finetune.py::test_a_kill_while_writing_a_checkpoint_leaves_the_previous_one_whole",),
           "a kill mid-write must leave the previous round's checkpoint whole"),
    Mutant("finetune: rank weights reversed", "seqguide/design/finetune_losses.py",
           "    order = np.argsort(-r, kind=\"stable\")", "    order = np.argsort(r, kind=\"stable\")",
           ("tests/design/test_finetune.py::test_rank_advantages_follow_the_rewards_and_vanish_when_equal",
            "tests/design/test_finetune.py::test_high_rewards_raise_the_exact_probability_of_the_best_sequence"),
           "rank 0 must be the best design"),
    # ---- issue 21 (guidance correctness): the audit's uncaught mutants and the earlier audit's four survivors
    Mutant("i21: STGFlow draws its hard samples from the prediction, not the simplex state",
           "seqguide/guidance/discrete/stgflow.py",
           "for masked diffusion\")\n            return state",
           "for masked diffusion\")\n            return pred.exp()",
           ("tests/guidance/test_stgflow.py::test_hard_samples_come_from_the_chosen_source",),
           "STGFlow (Tang et al. 2025, Fig. 2) draws h ~ x_t, the simplex state"),
    Mutant("i21: discrete classifier guidance reads the classifier at t, not s",
           "seqguide/guidance/discrete/classifier.py",
           "            delta = self.log_ratios(state, pred, s, mask_id)",
           "            delta = self.log_ratios(state, pred, t, mask_id)",
           ("tests/guidance/test_classifier_guidance.py::test_the_classifier_is_read_at_the_next_time_s",),
           "Bayes' rule tilts by p(y | x_s) at the next time"),
    Mutant("i21: discrete classifier guidance normalises over tokens and mask (the unmasking rate moves)",
           "seqguide/guidance/discrete/classifier.py",
           "        if self.keep_unmask_rate:  # which token, from the tilt; whether to unmask, from the model",
           "        if False:",
           ("tests/guidance/test_classifier_guidance.py::test_scale_changes_which_token_is_revealed_not_how_many",),
           "scale != 1 must not change how fast masked diffusion unmasks (Rojas et al. 2025)"),
    Mutant("i21: APS carries its warm-start tilt from one sample() run into the next",
           "seqguide/guidance/posterior/aps.py",
           "        self._delta: torch.Tensor | None = None",
           "        self._delta = getattr(self, '_delta', None)",
           ("tests/guidance/test_aps.py::test_the_warm_start_does_not_carry_from_one_run_into_the_next",),
           "a run's first tilt starts from zero"),
    Mutant("i21: the continuous model keeps the unclipped eps after clipping x0",
           "seqguide/models/continuous.py",
           "            eps = torch.where(s > 0, (pred.state - a * x0) / s.clamp_min(torch.finfo(x0.dtype).tiny), eps)",
           "            eps = eps",
           ("tests/continuous/test_image_models.py::test_clipping_x0_rederives_eps_so_the_step_stays_on_the_path",),
           "a clipped x0 with the old eps leaves the Gaussian path"),
    Mutant("i21: FDG's parallel component taken against u instead of c", "seqguide/guidance/cfg/fdg.py",
           "                par, orth = project(d, cl)",
           "                par, orth = project(d, ul)",
           ("tests/guidance/test_cfg_family.py::"
            "test_fdg_parallel_weights_scale_the_part_of_each_band_parallel_to_the_conditional_band",),
           "APG's projection is onto the conditional prediction"),
    Mutant("i21: FDG's default scales in the reverse of the paper's order", "seqguide/guidance/cfg/fdg.py",
           "scales: tuple[float, ...] = (10.0, 5.0)",
           "scales: tuple[float, ...] = (5.0, 10.0)",
           ("tests/guidance/test_cfg_family.py::test_fdg_default_scales_are_the_papers_order_high_frequency_strongest",),
           "Sadat et al. 2025: the stronger scale on the high frequencies"),
    Mutant("i21: classifier guidance's sine schedule replaced by a cosine",
           "seqguide/guidance/cfg/classifier_guidance.py",
           "math.sin(math.pi * t)",
           "math.cos(math.pi * t)",
           ("tests/guidance/test_image_guidance.py::test_classifier_guidance_defaults_to_elucds_sine_bump",),
           "EluCD's 1 + gamma sin(pi t) bump"),
    Mutant("i21: anchoring never draws the last window position", "seqguide/design/anchoring.py",
           "        start = (rand(n) * (length - e + 1).float()).long()",
           "        start = (rand(n) * (length - e).float()).long()",
           ("tests/design/test_anchoring.py::test_every_window_start_is_drawn_up_to_the_last_one",),
           "a window starts anywhere in 0..L-e"),
    Mutant("i21: anchoring's crossover partner may be the first parent", "seqguide/design/anchoring.py",
           "            idx_b = (idx_a + 1 + randint(num - 1, n)) % num",
           "            idx_b = randint(num, n)",
           ("tests/design/test_anchoring.py::test_a_crossover_partner_is_never_the_first_parent",),
           "a crossover joins two distinct elites"),
    Mutant("i21: an entry-point plugin shadows a built-in guider name", "seqguide/guidance/registry/table.py",
           "            if ep.name in _BUILTIN:  # a plugin never shadows a built-in: the name keeps its documented "
           "meaning",
           "            if False:",
           ("tests/design/test_guider_registry.py::test_an_entry_point_cannot_shadow_a_built_in_guider",),
           "'cfg' always means the built-in CFG; the plugin is told why it is ignored"),
    Mutant("i21: RewardGuidance combines a simplex flow's log-probabilities without renormalising",
           "seqguide/guidance/posterior/reward_guidance.py",
           "        return guided_prediction(pred, pred_r, self.scale, log_probs=True)",
           "        return guided_prediction(pred, pred_r, self.scale, log_probs=not torch.is_floating_point(state))",
           ("tests/guidance/test_reward_guidance.py::test_a_simplex_flows_log_probabilities_are_renormalised",),
           "a float simplex state still has log-probability predictions"),
    Mutant("i21: the Gumbel-max draw of masked diffusion's step with the noise's sign flipped",
           "seqguide/models/gumbel.py",
           "    return -torch.log((-torch.log(u.clamp_min(tiny))).clamp_min(tiny))",
           "    return torch.log((-torch.log(u.clamp_min(tiny))).clamp_min(tiny))",
           ("tests/core/test_masked_process.py::test_step_draws_revealed_tokens_from_softmax_of_the_prediction",),
           "argmax(logp + G) with G = -log(-log u) draws from softmax(logp)"),
    Mutant("i21: the masked-diffusion ELBO without its weight", "seqguide/models/masked.py",
           "        return self.schedule.loss_weight(t) * token_nll.sum(dim=-1) / x0.shape[1]",
           "        return token_nll.sum(dim=-1) / x0.shape[1]",
           ("tests/core/test_masked_process.py::test_elbo_of_the_exact_denoiser_is_the_exact_nll",),
           "MDLM eq. 10 weights a masked token's cross-entropy by -alpha'/(1 - alpha)"),
    Mutant("i21: the prediction cache keys rows without their class label", "seqguide/sampling/context.py",
           "    return torch.cat([flat, labels.to(flat.dtype).unsqueeze(1)], dim=1)",
           "    return flat",
           ("tests/core/test_conditional_sampling.py::test_cache_on_equals_cache_off_with_a_label_per_row",),
           "rows that share a state but not a label must not share a prediction"),
    Mutant("i21: SVDD scores each candidate under another row's label", "seqguide/guidance/value/svdd.py",
           "        rows = torch.arange(B, device=flat.device).repeat_interleave(M)",
           "        rows = torch.arange(B, device=flat.device).repeat(M)",
           ("tests/core/test_conditional_sampling.py::test_guided_conditional_samples_follow_each_rows_own_label",),
           "candidate m of row b is row b's, with row b's label"),
    # i22b: paths, the HTML report, the quiet CLI
    Mutant("i22b: host-sync sites cut at the last folder named seqguide", "seqguide/sampling/host_syncs.py",
           "        return resolved.relative_to(root).as_posix()",
           "        return '/'.join(resolved.parts[len(resolved.parts) - 1 - resolved.parts[::-1].index('seqguide'):])",
           ("tests/scale/test_host_syncs.py",),
           "a clone sits in a folder named seqguide: sites are relative to the checkout, not to that name"),
    Mutant("i22b: import seqguide loads the sampler eagerly", "seqguide/__init__.py",
           "from seqguide.lazy import lazy_exports",
           "from seqguide.lazy import lazy_exports\nfrom seqguide.sampling import Samples, sample  # noqa: F401",
           ("tests/core/test_cli_startup.py::test_version_and_help_load_neither_torch_nor_lightning",),
           "seqguide --version must not pay for torch"),
    Mutant("i22b: seqguide.data loads the Lightning data module eagerly", "seqguide/data/__init__.py",
           "from seqguide.lazy import lazy_exports",
           "from seqguide.lazy import lazy_exports\n"
           "from seqguide.data.datamodule import SequenceDataModule  # noqa: F401",
           ("tests/core/test_cli_startup.py::test_design_validate_does_not_load_lightning",),
           "design validate reads a preset's description, not the training stack"),
    Mutant("i22b: best-so-far axis leaves out the guidance's look-ahead calls", "seqguide/design/report/plots.py",
           "            paid += lookahead.get(r, 0)", "            paid += 0",
           ("tests/design/test_report_html.py::test_best_so_far_axis_ends_at_the_calls_the_run_paid",),
           "the axis must end at the calls the run paid (it ended at 64 of 2,422)"),
    Mutant("i22b: report tables number rounds from 0", "seqguide/design/report/tables.py",
           '    return [{"round": r.round + 1, "status"', '    return [{"round": r.round, "status"',
           ("tests/design/test_report_html.py::test_no_baseline_without_guided_designs_and_rounds_from_one_in_the_tables",),
           "the console numbers rounds from 1: so do the tables"),
    Mutant("i22b: train --help says usage: seqguide", "seqguide/training/quiet.py",
           '        kwargs.setdefault("parser_kwargs", {"prog": "seqguide train"})', "        pass",
           ("tests/core/test_train_quiet.py::test_train_help_names_the_command",),
           "the help text names the command it documents"),
    # i20rv: REINVENT baseline
    Mutant("reinvent: the score's sign in the augmented likelihood is flipped", "seqguide/baselines/reinvent.py",
           "return (prior_ll + sigma * score - agent_ll) ** 2", "return (prior_ll - sigma * score - agent_ll) ** 2",
           ("tests/baselines/test_reinvent.py",), "the agent would be pushed away from high scores"),
    Mutant("reinvent: prior and agent swapped in the loss", "seqguide/baselines/reinvent.py",
           "loss = augmented_likelihood_loss(agent_ll, prior_ll, torch.as_tensor(scores, dtype=agent_ll.dtype, "
           "device=dev),", "loss = augmented_likelihood_loss(prior_ll, agent_ll, torch.as_tensor(scores, "
           "dtype=agent_ll.dtype, device=dev),",
           ("tests/baselines/test_reinvent.py",), "the agent would learn the opposite of the score"),
    Mutant("reinvent: the batch that spent the budget (unpaid items) is learned from and replayed",
           "seqguide/baselines/reinvent.py",
           "break  # the batch that spent the budget may hold unpaid items: nothing is learned from it",
           "pass", ("tests/baselines/test_reinvent.py",), "replay would hold molecules nobody paid for"),

    # issue 21, reliability (i21r)
    Mutant("lock: the store's own lock is not taken", "seqguide/design/campaign.py",
           "            return RunLock(self.run_dir, argv=list(argv) or None, store=self.store_path).acquire()",
           "            return RunLock(self.run_dir, argv=list(argv) or None).acquire()",
           ("tests/reliability/test_locking.py::test_two_writers_from_different_directories_on_one_store_the_second_is_refused",),
           "two run directories on one store must collide on the store's lock"),
    Mutant("lock: a live session is taken for dead", "seqguide/design/campaign.py",
           "            if sess[\"status\"] == \"running\" and sess.get(\"host\") == here",
           "            if False and sess[\"status\"] == \"running\" and sess.get(\"host\") == here",
           ("tests/reliability/test_locking.py::test_two_writers_from_different_directories_on_one_store_the_second_is_refused",),
           "a live writer's session must never be marked interrupted"),
    Mutant("lock: resume compares the unresolved run directory", "seqguide/design/campaign.py",
           "        if recorded is not None and recorded != mine and not inside:",
           "        if False:",
           ("tests/reliability/test_locking.py::test_a_store_outside_its_run_directory_is_not_resumed_from_another_run_directory",),
           "a store must not be resumed from another (resolved) run directory"),
    Mutant("run dir: a read-only run directory is a traceback", "seqguide/design/campaign.py",
           "        except PermissionError as err:\n            where = err.filename or self.run_dir",
           "        except NotImplementedError as err:\n            where = err.filename or self.run_dir",
           ("tests/reliability/test_store_faults.py::test_a_read_only_run_directory_is_refused_in_one_line_naming_it",),
           "an unwritable run directory is one line, exit 2"),
    Mutant("checkpoint: a corrupt resume checkpoint reaches Lightning", "seqguide/training/options.py",
           "        return str(path), f\"resuming from {path} (step {checked_resume(path)[1]})\"",
           "        return str(path), f\"resuming from {path}\"",
           ("tests/reliability/test_training_kills.py::test_a_bad_checkpoint_to_resume_from_is_one_line_naming_it",),
           "--ckpt_path FILE is checked (weights_only) before Lightning reads it"),
    Mutant("checkpoint: a campaign's corrupt last.ckpt reaches Lightning", "seqguide/training/sequences.py",
           "        last = checked_resume(last, other=None)[0]",
           "        pass",
           ("tests/reliability/test_training_kills.py::test_a_corrupt_last_checkpoint_left_in_a_campaign_is_one_line_naming_it",),
           "a left-over last.ckpt is checked before Lightning reads it"),
    Mutant("guider path: a relative class path reaches importlib", "seqguide/guidance/registry/table.py",
           "    if not all(p.isidentifier() for p in (*module.split(\".\"), *attr.split(\".\"))):",
           "    if False:",
           ("tests/reliability/test_config_inputs.py::test_a_relative_or_malformed_guider_class_path_is_one_line",),
           "'.svdd:SVDD' is one line, not importlib's TypeError"),
    Mutant("memory: the estimate forgets the vocabulary", "seqguide/sampling/memory.py",
           "    return int(rows) * int(length) * int(vocab) * int(bytes_per_value)",
           "    return int(rows) * int(length) * int(bytes_per_value)",
           ("tests/reliability/test_memory_inputs.py::test_the_estimate_is_rows_times_length_times_vocab_times_four_bytes",),
           "the logits are rows x length x vocab values"),
    Mutant("memory: guiders' particles do not count", "seqguide/sampling/memory.py",
           "            factor *= value",
           "            factor *= 1",
           ("tests/reliability/test_memory_inputs.py::test_the_estimate_is_rows_times_length_times_vocab_times_four_bytes",),
           "particles multiply the rows of a forward"),
    Mutant("init: the pad id is kept", "seqguide/sampling/sampler.py",
           "        if len(where):\n            row, col",
           "        if False:\n            row, col",
           ("tests/core/test_sample_init.py::test_a_pad_id_in_init_is_refused_with_its_row_and_position",),
           "a kept pad shortens the sequence"),
    Mutant("BOM: a byte-order mark is read as data", "seqguide/data/formats.py",
           "    return open(path, encoding=\"utf-8-sig\")",
           "    return open(path, encoding=\"utf-8\")",
           ("tests/reliability/test_data_inputs.py::test_a_utf8_byte_order_mark_is_read_in_fasta_csv_and_smi_alike",),
           "a FASTA file from a Windows editor starts with a BOM"),
    # issue 20 part 5 (i20ehr): fine-tuning every k rounds (FineTune.every)
    Mutant("i20ehr: FineTune.every ignored (an update every round)", "seqguide/design/finetune.py",
           "        if j % s.every:", "        if False:",
           ("tests/design/test_finetune.py::test_updating_every_second_round_trains_only_then_and_a_kill_resumes_to_the_same_weights",),
           "every=k must update only before rounds k, 2k, ..."),
    Mutant("i20ehr: checkpoints pruned by rounds, not by updates", "seqguide/design/finetune.py",
           "            if old <= j - self.settings.keep * self.settings.every:",
           "            if old <= j - self.settings.keep:",
           ("tests/design/test_finetune.py::test_updating_every_second_round_trains_only_then_and_a_kill_resumes_to_the_same_weights",),
           "keep counts the updates kept on disk"),
]


def run(mutant: Mutant, python: str) -> bool:
    """Apply ``mutant``, run its tests, restore the file; True if the tests failed (the mutant was caught)."""
    path = ROOT / mutant.path
    original = path.read_text()
    if original.count(mutant.old) != 1:
        raise SystemExit(f"{mutant.name}: {mutant.path} holds the line {original.count(mutant.old)} times, not once:"
                         f"\n  {mutant.old}")
    path.write_text(original.replace(mutant.old, mutant.new))
    try:
        proc = subprocess.run([python, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", *mutant.tests],
                              cwd=ROOT, capture_output=True, text=True)
    finally:
        path.write_text(original)
    return proc.returncode != 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("words", nargs="*", help="run only the mutants whose name contains one of these")
    parser.add_argument("--list", action="store_true", help="list the mutants and exit")
    args = parser.parse_args(argv)
    chosen = [m for m in MUTANTS if not args.words or any(w in m.name for w in args.words)]
    if args.list:
        for m in chosen:
            print(f"{m.name}: {m.path} ({m.why})")
        return 0
    survived = []
    for m in chosen:
        caught = run(m, sys.executable)
        print(f"{'caught  ' if caught else 'SURVIVED'}  {m.name}  ({m.path})", flush=True)
        if not caught:
            survived.append(m.name)
    print(f"{len(chosen) - len(survived)} of {len(chosen)} mutants caught")
    return 1 if survived else 0


if __name__ == "__main__":
    raise SystemExit(main())
