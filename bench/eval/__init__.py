"""`shiftrec bench eval`: ShiftRec against baselines and published anchors, one sub-command per protocol."""
