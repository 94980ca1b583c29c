"""Small widgets and presentation helpers of the panel."""
