"""What Breaker does, as plain Python: inventory, secrets, audit, probing, switches, review.

The CLI and the panel both call these; nothing here imports Textual.
"""
