"""The notifier: earned-points emails from ``loyalty.points.v1``, one per award."""
