"""Load and validate a question directory: records, dataset, reference class, input frame."""
