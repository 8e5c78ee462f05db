"""User-declared grids of runs (``depthlab sweep GRID.toml``): a grid file is parsed by
:mod:`.grid_file`, run, summarized and reported by :mod:`.sweep`."""
