"""Reports that train and evaluate across stages: the ablation of the SMART-R1 recipe."""
