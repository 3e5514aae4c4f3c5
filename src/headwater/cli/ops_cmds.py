"""``headwater gc``: apply the retention policy to the store."""
