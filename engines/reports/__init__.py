"""Reports: rendered overlays and maps, their legends, plots, the HTML/JSON report and the report bundle."""
