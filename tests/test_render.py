"""Pictures made from maps (engines.reports.render) and how evidence maps are captioned and scaled
(engines.reports.map_legend)."""

from __future__ import annotations

import numpy as np

from engines.reports.map_legend import display_range, legend, stretched
from engines.reports.render import colorize, mask_outline, overlay, tick_label, with_colour_bar


def test_overlay_is_transparent_where_the_heatmap_is_zero_and_opacity_is_its_maximum():
    rgb = np.full((4, 4, 3), 100, np.uint8)
    heatmap = np.zeros((4, 4), np.float32)
    heatmap[0, 0] = 1.0
    heatmap[0, 1] = 0.5
    blended = overlay(rgb, heatmap, opacity=0.8, cmap="gray")
    assert (blended[1:] == 100).all()  # nothing found: the photo untouched
    assert blended[0, 0, 0] == round(100 * 0.2 + 255 * 0.8)
    assert blended[0, 1, 0] == round(100 * 0.6 + colorize(np.float32(0.5), "gray")[0] * 0.4)


def test_mask_outline_is_a_dark_halo_around_a_bright_stroke_of_the_chosen_width():
    rgb = np.full((60, 60, 3), 128, np.uint8)
    mask = np.zeros((60, 60), bool)
    mask[20:40, 20:40] = True
    thin, wide = mask_outline(rgb, mask, width=1), mask_outline(rgb, mask, width=5)
    row = wide[30]
    assert tuple(row[20]) == (0, 255, 0) and tuple(row[30]) == (128, 128, 128)
    assert (row[:30] == 0).all(axis=1).any()  # the dark halo
    assert (wide == (0, 255, 0)).all(axis=2).sum() > 3 * (thin == (0, 255, 0)).all(axis=2).sum()


def test_colour_bar_is_appended_below_with_the_colormap_and_keeps_the_width():
    picture = np.zeros((50, 300, 3), np.uint8)
    framed = with_colour_bar(picture, "viridis", 0.0, 0.25, "range of this map")
    assert framed.shape[1] == 300 and framed.shape[0] > 50 and (framed[:50] == 0).all()
    bar_colours = {tuple(c) for c in framed[50:].reshape(-1, 3)}
    assert tuple(colorize(np.float32(0.0), "viridis")) in bar_colours
    assert tuple(colorize(np.float32(1.0), "viridis")) in bar_colours
    assert [tick_label(v) for v in (0.0, 0.125, 0.25, 0.00002)] == ["0", "0.125", "0.25", "2e-05"]


def test_maps_are_captioned_in_words_on_a_stated_scale():
    assert legend("shift_blur_s0").caption == "feature shift under blur, fine scale"
    assert legend("shift_jpeg_s2").caption == "feature shift under JPEG re-compression, coarse scale"
    assert legend("latent_t0.28") .caption == "latent branch at noise level 0.28: probability"
    assert legend("edge_cue_s1").probability and not legend("ela").probability
    assert legend("something_new").caption == "something new"
    values = np.array([[0.2, 0.3], [0.4, 0.2]], np.float32)
    assert display_range(values, probability=True) == (0.0, 1.0)
    low, high = display_range(values, probability=False)
    assert (low, high) == (np.float32(0.2), np.float32(0.4))
    assert stretched(values, low, high).max() == 1.0 and stretched(values, 0.3, 0.3).max() == 0.0
