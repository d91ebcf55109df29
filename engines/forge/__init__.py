"""The forge: synthetic forgeries with exact masks, from a folder of real photographs (docs/forge.md).

- `pipeline.generate_dataset(photos_dir, out_dir, n, ForgeConfig(...))`: a dataset in the
  benchmark layout (`writer.py`) with per-sample metadata (`meta.py`);
- `sample.make_sample(index, kind, config, photos)`: one sample in memory;
- `gallery.write_gallery(photos_dir, out_dir)`: PNG grids to judge realism.

The package itself imports nothing, so `engines.forge.config` stays cheap for the command line.
"""
