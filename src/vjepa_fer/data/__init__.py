"""Dataset acquisition, file-name parsing, folds, manifests and the synthetic demo data."""
