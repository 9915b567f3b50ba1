"""Loading and validating a question's data directory: records, the dataset, the reference class, the model's input frame."""
