"""Reserved for the training issue; see DESIGN.md."""
