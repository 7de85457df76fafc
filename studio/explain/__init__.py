"""Reserved for the explain issue; see DESIGN.md."""
