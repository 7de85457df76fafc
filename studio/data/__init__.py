"""Data: sources, bundled datasets, splits, preprocessing and loaders (no Qt).

Entry points, from the cheapest to the one that needs torch:

* `studio.data.registry.default_datasets()`: the bundled (and plugin) datasets, listed
  without loading anything; each `DatasetInfo` has kind, task, sample shape, size, licence.
* `studio.data.compatibility.check_project_data(project)`: the data against the graph's
  Input/Output nodes, as `Problem`s (what `studio validate` prints).
* `studio.data.overview.inspect_data(section)`: previews, statistics, class balance and
  split sizes as plain data for the data tab (numpy, no torch).
* `studio.data.pipeline.load_data(section)` / `load_project_data(project)`: train,
  validation and test `torch.utils.data.Dataset`s plus the input shapes, classes, vocabulary
  and the preprocessing state to save with a run; `.loaders(...)` makes seeded DataLoaders.

Errors are `studio.data.errors.DataError`s whose messages name the file, row and column.
Nothing here is imported by ``import studio.data``; import the module you need.
"""
