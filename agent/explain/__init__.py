"""Why an item is on the list: explanations grounded in the user's own events, the checks
every text passes before a person sees it, the stored recommendation records and the
answers to "why?" read from them."""
