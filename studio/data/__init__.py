"""Reserved for the data issue; see DESIGN.md."""
