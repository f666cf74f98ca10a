"""An example seqguide plugin: a guider (``guiders.GCBias``) and an oracle (``scorers.CpGCount``)."""
