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
