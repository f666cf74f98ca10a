"""``python -m benchmarks list`` and ``python -m benchmarks run NAME [--quick] [--seeds ...]``."""

from benchmarks.runner import main

if __name__ == "__main__":
    raise SystemExit(main())
