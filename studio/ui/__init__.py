"""Reserved for the ui issue; see DESIGN.md."""
