"""Batch analysis of image collections on Ray Data: one Parquet row per image and engine.

`inputs` turns a folder, glob, list or dataset index into confined image paths; `worker` is the
callable class Ray Data runs in an actor pool (an engine loaded once per worker, images read by
the workers); `rows` analyses one image into a row (or an error row); `schema`, `rle` and `table`
define and write the Parquet table and read back what a rerun may skip; `runner` joins them and
reports progress (`progress`).
"""
