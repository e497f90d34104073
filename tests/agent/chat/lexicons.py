"""Topic trees for the chat's grammar tests: MovieLens genres and a 3-level grocery tree."""

from __future__ import annotations

import numpy as np

from agent.chat.topic_words import TopicLexicon
from memory.taxonomy import TopicNode, path_chain

GENRES = ["Action", "Adventure", "Animation", "Children's", "Comedy", "Crime", "Documentary", "Drama", "Fantasy",
          "Film-Noir", "Horror", "Musical", "Mystery", "Romance", "Sci-Fi", "Thriller", "War", "Western"]
GROCERY_PATHS = [("Grocery", "Soft Drinks", "Soft Drinks 12/18&15pk Can Car"),
                 ("Produce", "Vegetables - All Others", "Broccoli Whole&Crowns"),
                 ("Frozen", "Frozen Pizza", "Pizza/Premium"), ("Meat", "Beef", "Lean"),
                 ("Dairy", "Fluid Milk Products", "Fluid Milk White Only"),
                 ("Grocery", "Baked Bread/Buns/Rolls", "Mainstream White Bread"),
                 ("Grocery", "Coffee", "Coffee Filters")]


def movie_lexicon() -> TopicLexicon:
    nodes = {}
    for genre in GENRES:
        node_id = path_chain((genre,))[0]
        nodes[node_id] = TopicNode(node_id, genre, None, np.zeros(4), "path", items=10)
    return TopicLexicon(nodes)


def grocery_lexicon() -> TopicLexicon:
    nodes = {}
    for path in GROCERY_PATHS:
        chain = path_chain(path)
        for depth, (node_id, label) in enumerate(zip(chain, path)):
            nodes[node_id] = TopicNode(node_id, label, chain[depth - 1] if depth else None, np.zeros(4), "path",
                                       items=5)
    return TopicLexicon(nodes)
