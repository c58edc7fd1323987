"""The project site (`bot site`): static pages of the model's history, leaf by leaf.

collect.py reads what the repository and the work folder hold into model.py's data;
matrix.py builds the accuracy matrix over merges; one module per page kind (overview,
history, taxonomy, leaf, release) renders it with html.py's helpers; build.py writes the
folder. archive.py keeps each retrain's report for the history (docs/site.md).
"""
