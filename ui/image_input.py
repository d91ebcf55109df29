"""The image picker every analysis panel shares: file upload (original bytes), clipboard paste
(lossless PNG, but re-encoded) and the synthetic examples shipped in assets/examples/."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import gradio as gr

from engines.data.file_forensics import inspect_file
from engines.data.imageio import LoadedImage, load_image
from engines.settings import get_settings
from ui.file_panel import FilePanel, build_file_panel, panel_values
from ui.messages import user_errors

PASTE_LABEL = "…or paste (Ctrl+V): lossless PNG, but re-encoded"
PASTE_NOTE = ("A pasted image is kept as lossless PNG, but it was re-encoded on the way: its JPEG traces "
              "are lost. Upload the file itself to analyse its original bytes.")
MASK_SUFFIX = "_mask"


@dataclass
class ImageInput:
    source: gr.State
    """Path of the file to analyse: the upload itself, or the PNG made from a paste."""
    upload: gr.File
    paste: gr.Image
    preview: gr.Image
    facts: gr.JSON
    file_panel: FilePanel


def example_images() -> list[Path]:
    folder = get_settings().assets_dir / "examples"
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in {".jpg", ".jpeg", ".png"}
                  and not p.stem.endswith(MASK_SUFFIX))


def example_mask(image: Path) -> Path | None:
    mask = image.with_name(f"{image.stem}{MASK_SUFFIX}.png")
    return mask if mask.is_file() else None


def load_source(path: str | None) -> LoadedImage:
    if not path:
        raise gr.Error("Upload, paste or pick an example image first.")
    with user_errors():
        return load_image(path)


def choose(path: str | None) -> list:
    """A new upload or paste becomes the image to analyse. Outputs: the path, its preview, its
    decoded facts, then the file-forensics panel (`FilePanel.outputs`)."""
    if not path:
        return [None, None, None, *panel_values(None)]
    image = load_source(path)
    with user_errors():
        report = inspect_file(path)
    return [path, image.rgb, image.facts(), *panel_values(report)]


def choose_pasted(payload: dict | None):
    """A paste, taken as the PNG file Gradio saved, undecoded (its event has `preprocess=False`;
    Gradio still checks the file is an upload): `load_image` then checks the size before
    decoding, so a decompression bomb gets the same refusal as an uploaded file."""
    return choose(payload["path"] if payload else None)


def build_image_input(prefix: str) -> ImageInput:
    source = gr.State(None)
    upload = gr.File(label="Image: drop or browse (its original bytes are analysed)", file_types=["image"],
                     elem_id=f"{prefix}-upload")
    paste = gr.Image(label=PASTE_LABEL, sources=["clipboard"], type="filepath", format="png",
                     height=140, elem_id=f"{prefix}-paste")
    gr.Markdown(PASTE_NOTE, elem_classes=["paste-note"])
    preview = gr.Image(label="Image being analysed", interactive=False, format="png", elem_id=f"{prefix}-preview")
    file_panel = build_file_panel(prefix)
    with gr.Accordion("Decoded image facts", open=False):
        facts = gr.JSON(show_label=False)
    picker = ImageInput(source=source, upload=upload, paste=paste, preview=preview, facts=facts, file_panel=file_panel)
    outputs = [source, preview, facts, *file_panel.outputs]
    upload.change(choose, upload, outputs)
    paste.change(choose_pasted, paste, outputs, preprocess=False)
    return picker


def add_examples(picker: ImageInput, mask_input: gr.File | None = None) -> None:
    """Examples that fill the upload (and, when given, the ground-truth mask input)."""
    images = example_images()
    if not images:
        return
    if mask_input is None:
        gr.Examples([[str(p)] for p in images], [picker.upload], label="Examples (synthetic)")
        return
    rows = [[str(p), str(m) if (m := example_mask(p)) else None] for p in images]
    labels = [f"{p.name} + mask" if mask else p.name for p, (_, mask) in zip(images, rows, strict=True)]
    gr.Examples(rows, [picker.upload, mask_input], label="Examples (synthetic, with ground truth)",
                example_labels=labels)
