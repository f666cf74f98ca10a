"""``python -m benchmarks list``, ``... run NAME [--quick] [--seeds ...]`` and ``... summary``."""

from benchmarks.runner import main

if __name__ == "__main__":
    raise SystemExit(main())
