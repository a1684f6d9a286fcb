"""What-if: re-deciding stored order histories under proposed settings, writing nothing."""
