"""The Gradio GUI: layout, widgets and callbacks only; all computing is in `engines`."""
