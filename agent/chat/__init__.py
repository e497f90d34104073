"""The conversation: intent routing, mentions of titles and positions, and the chat turn
that calls the recommender through the narrow interface it is handed."""
