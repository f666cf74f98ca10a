"""Reading the files users write by hand, refusing hostile input: YAML (campaigns, ``key=value`` overrides,
training configs). Sequence data files are read by :mod:`seqguide.data`, checkpoints by
:mod:`seqguide.models.checkpoints`.
"""

from seqguide.io.safe_yaml import MAX_YAML_BYTES, MAX_YAML_DEPTH, MAX_YAML_NODES, ConfigError, parse_yaml, read_yaml

__all__ = ["MAX_YAML_BYTES", "MAX_YAML_DEPTH", "MAX_YAML_NODES", "ConfigError", "parse_yaml", "read_yaml"]
