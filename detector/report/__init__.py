"""Reports: the self-contained HTML report and the daily model-share report."""
