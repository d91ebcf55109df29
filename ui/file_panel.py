"""The file-forensics panel every image picker shows: what the file itself says before any pixel
analysis (`engines.data.file_forensics`)."""

from __future__ import annotations

from dataclasses import dataclass

import gradio as gr

from engines.data.file_forensics import FileForensics

TAG_HEADERS = ["⚑", "group", "tag", "value"]
FLAG = "⚠"


@dataclass
class FilePanel:
    summary: gr.Markdown
    thumbnail: gr.Image
    tags: gr.Dataframe
    tables: gr.JSON

    @property
    def outputs(self) -> list:
        return [self.summary, self.thumbnail, self.tags, self.tables]


def summary_markdown(report: FileForensics) -> str:
    lines = [f"**{report.source}** · {report.format or 'unknown format'} · {report.width}×{report.height} · "
             f"{report.size_bytes:,} bytes", f"SHA-256 `{report.sha256}`"]
    jpeg = report.jpeg
    if jpeg is not None:
        quality = (f"quality {jpeg['quality']} (standard IJG tables)" if jpeg["quality_standard"] else
                   f"non-standard tables; nearest IJG quality {jpeg['quality']}")
        coding = "progressive" if jpeg["progressive"] else "baseline"
        lines.append(f"JPEG: {quality} · {coding} · chroma {jpeg['subsampling']}")
    if report.thumbnail is not None and report.thumbnail.matches:
        lines.append(report.thumbnail.finding)
    if report.clues:
        clues = "\n".join(f"- {FLAG} {clue}" for clue in report.clues)
        lines.append(f"**What to look at first** (hints, not proof):\n{clues}")
    else:
        lines.append("No metadata clue: nothing names editing software, and no other hint stands out.")
    return "\n\n".join(lines)


def panel_values(report: FileForensics | None) -> list:
    """Values for `FilePanel.outputs`; empty when no file is chosen. The thumbnail and the tag
    table are hidden when the file has none."""
    if report is None:
        return ["", gr.update(value=None, visible=False), gr.update(value=[], visible=False), None]
    rows = [[FLAG if tag.highlighted else "", tag.group, tag.name, tag.value] for tag in report.tags]
    tables = report.jpeg["quantization_tables"] if report.jpeg is not None else None
    thumbnail = report.thumbnail.thumbnail if report.thumbnail is not None else None
    return [summary_markdown(report), gr.update(value=thumbnail, visible=thumbnail is not None),
            gr.update(value=rows, visible=bool(rows)), tables]


def build_file_panel(prefix: str) -> FilePanel:
    with gr.Accordion("File forensics: what the file itself says", open=True, elem_id=f"{prefix}-file"):
        summary = gr.Markdown(elem_id=f"{prefix}-file-summary")
        thumbnail = gr.Image(label="Embedded EXIF thumbnail (compared with the image above)", interactive=False,
                             format="png", height=160, visible=False, elem_id=f"{prefix}-thumbnail")
        tags = gr.Dataframe(headers=TAG_HEADERS, label=f"Metadata: EXIF, XMP, ICC ({FLAG} names software or editing)",
                            interactive=False, wrap=True, max_height=320, visible=False, elem_id=f"{prefix}-tags",
                            column_widths=["8%", "17%", "30%", "45%"])
        with gr.Accordion("JPEG quantisation tables (8×8, natural order)", open=False):
            tables = gr.JSON(show_label=False)
    return FilePanel(summary, thumbnail, tags, tables)
