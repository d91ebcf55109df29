"""A magnifier that stays in sync across an Inspect panel's pictures, with a hover readout of the
heatmap value (what Forensically's magnifier does).

Hovering any picture of the panel (the image being analysed, the overlay, the mask outline, the
copy-move pairs, the binary mask, the evidence maps) shows a lens over the same image pixel in all
of them at once, and the heatmap value there. Pictures may differ in size and carry a colour bar below the image, so
the point is tracked in image coordinates: across in widths, down in widths. The browser reads the
value from an 8-bit copy of the heatmap (shown to 2 decimals; a click reads every map exactly on
the server)."""

from __future__ import annotations

import base64
import json

import cv2
import gradio as gr
import numpy as np

from engines.result import Analysis

MAX_SIDE = 1024
"""The heatmap copy sent to the browser is at most this many pixels on its long side."""
SYNCED = ("preview", "overlay", "outline", "pairs", "mask", "maps")
"""elem_id suffixes of the panel's pictures that the lens follows."""
HELP = ("Hover any picture (image, overlay, outline, copy-move pairs, mask, evidence maps): a lens shows the same "
        "spot in every one of them, with the heatmap value there.")

LENS_JS = """
const prefix = props.prefix;
const synced = props.synced.split(",").map(name => `#${prefix}-${name}`);
const readout = () => element.querySelector(".lens-readout");
let heat = null;
const lenses = new Map();

function loadHeatmap() {
  heat = null;
  if (!props.value) return;
  const record = JSON.parse(props.value);
  const picture = new Image();
  picture.onload = () => {
    const canvas = document.createElement("canvas");
    canvas.width = picture.naturalWidth;
    canvas.height = picture.naturalHeight;
    const context = canvas.getContext("2d", {willReadFrequently: true});
    context.drawImage(picture, 0, 0);
    heat = {...record, cols: canvas.width, rows: canvas.height,
            data: context.getImageData(0, 0, canvas.width, canvas.height).data};
  };
  picture.src = record.src;
}

function contentBox(img) {
  const rect = img.getBoundingClientRect();
  let scale = Math.min(rect.width / img.naturalWidth, rect.height / img.naturalHeight);
  if (getComputedStyle(img).objectFit === "scale-down") scale = Math.min(scale, 1);
  const width = img.naturalWidth * scale, height = img.naturalHeight * scale;
  return {left: rect.left + (rect.width - width) / 2, top: rect.top + (rect.height - height) / 2, width, height};
}

function pictures() {
  return synced.flatMap(selector => [...document.querySelectorAll(`${selector} img`)])
    .filter(img => img.naturalWidth > 0 && img.getBoundingClientRect().width > 0);
}

function hide() {
  lenses.forEach(lens => lens.remove());
  lenses.clear();
}

function zoom() {
  const slider = document.querySelector(`#${prefix}-zoom input[type=range]`);
  return slider ? Number(slider.value) : 3;
}

function show(across, down, caption) {
  const factor = zoom(), shown = new Set();
  for (const img of pictures()) {
    const box = contentBox(img), radius = Math.min(70, box.width / 4);
    const lens = lenses.get(img) || document.body.appendChild(document.createElement("div"));
    lenses.set(img, lens);
    shown.add(img);
    lens.className = `${prefix}-lens`;
    lens.dataset.across = across.toFixed(4);
    lens.dataset.down = down.toFixed(4);
    Object.assign(lens.style, {
      position: "absolute", pointerEvents: "none", zIndex: 1000, borderRadius: "50%",
      width: `${2 * radius}px`, height: `${2 * radius}px`,
      left: `${window.scrollX + box.left + across * box.width - radius}px`,
      top: `${window.scrollY + box.top + down * box.width - radius}px`,
      border: "2px solid white", boxShadow: "0 0 0 2px black",
      backgroundImage: factor > 1 ? `url("${img.src}")` : "none", backgroundRepeat: "no-repeat",
      backgroundSize: `${box.width * factor}px ${box.height * factor}px`,
      backgroundPosition: `${radius - across * box.width * factor}px ${radius - down * box.width * factor}px`,
      color: "white", textShadow: "0 0 3px black", font: "bold 12px sans-serif",
      display: "flex", alignItems: "flex-end", justifyContent: "center",
    });
    lens.textContent = caption;
  }
  lenses.forEach((lens, img) => { if (!shown.has(img)) { lens.remove(); lenses.delete(img); } });
}

document.addEventListener("mousemove", event => {
  const img = event.target instanceof HTMLImageElement ? event.target : null;
  if (!img || !heat || !synced.some(selector => img.closest(selector))) return hide();
  const box = contentBox(img);
  const across = (event.clientX - box.left) / box.width, down = (event.clientY - box.top) / box.width;
  if (across < 0 || across >= 1 || down < 0 || down >= heat.height / heat.width) return hide();
  const col = Math.min(heat.cols - 1, Math.floor(across * heat.cols));
  const row = Math.min(heat.rows - 1, Math.floor(down * heat.cols));
  const value = (heat.data[4 * (row * heat.cols + col)] / 255).toFixed(2);
  const x = Math.floor(across * heat.width), y = Math.floor(down * heat.width);
  readout().textContent = `At x ${x}, y ${y}: heatmap ${value}`;
  show(across, down, value);
});
watch("value", loadHeatmap);
loadHeatmap();
"""


def heatmap_record(analysis: Analysis) -> str:
    """The panel's magnifier value: the image size and an 8-bit PNG of the heatmap (data URL)."""
    height, width = analysis.size
    scale = min(1.0, MAX_SIDE / max(height, width))
    heatmap = np.clip(analysis.heatmap, 0.0, 1.0)
    if scale < 1.0:
        size = (max(1, round(width * scale)), max(1, round(height * scale)))
        heatmap = cv2.resize(heatmap.astype(np.float32), size, interpolation=cv2.INTER_AREA)
    ok, png = cv2.imencode(".png", np.round(heatmap * 255).astype(np.uint8))
    if not ok:
        raise RuntimeError("could not encode the heatmap for the magnifier")
    source = "data:image/png;base64," + base64.b64encode(png.tobytes()).decode("ascii")
    return json.dumps({"width": width, "height": height, "src": source})


def build_magnifier(prefix: str) -> gr.HTML:
    """The zoom slider and the lens; the lens's value is `heatmap_record` of the panel's analysis."""
    gr.Slider(1, 8, value=3, step=0.5, label="Magnifier zoom (1 = value readout only)", elem_id=f"{prefix}-zoom")
    return gr.HTML(value="", elem_id=f"{prefix}-lens", prefix=prefix, synced=",".join(SYNCED),
                   html_template=f"<div>{HELP}</div><div class='lens-readout'></div>", js_on_load=LENS_JS)
