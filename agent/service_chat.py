"""What the chat asks of the service besides recommending: the catalog's topic words, what a turn
may consult (the list on screen, the person's pins and titles), stated preferences and the clock
their events are stamped with (a mixin of the service, kept apart so each file stays small)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timezone

from agent.chat.conversation import Conversations
from agent.chat.mentions import mentioned_items, position_reference
from agent.chat.sessions import SessionState
from agent.chat.topic_words import TopicLexicon
from agent.chat.turns import TurnContext, fuzzy_items, title_spans
from agent.settings import AgentConfig
from memory.edits import is_behaviour
from memory.models import Event, Item
from memory.service import InterestMemory

STATED_ITEMS = 3  # catalog items a stated preference is stored on


class ChatSupport:
    settings: AgentConfig
    memory: InterestMemory
    conversations: Conversations
    _titles: tuple[int, list[tuple[str, str]]] | None = None
    _lexicon: tuple[int, TopicLexicon] | None = None

    def topic_ids(self) -> dict[str, str]:
        """Top-level topic label -> node id (for filters given by name)."""
        return {node.label: node_id for node_id, node in self.memory.catalog.topics().items() if node.parent is None}

    def lexicon(self) -> TopicLexicon:
        """The catalog's topic words (rebuilt when the tree grows)."""
        topics = self.memory.catalog.topics()
        if self._lexicon is None or self._lexicon[0] != len(topics):
            self._lexicon = (len(topics), TopicLexicon(topics))
        return self._lexicon[1]

    def turn_context(self, state: SessionState) -> TurnContext:
        """What reading the next message of this session may consult."""
        user = state.user
        pinned = set(self.memory.editor.state(user).pinned)
        return TurnContext(
            lexicon=self.lexicon(), domain=self.settings.words, last_list=list(state.last_list),
            last_items=list(state.last_items), pinned=pinned, last_was_edit=state.last_was_edit,
            history_titles=lambda text: title_spans(text, self._history_pairs(user)),
            catalog_titles=lambda text: title_spans(text, self._catalog_pairs(text)),
            position_in=lambda text: position_reference(text, len(state.last_list), self.settings.words),
            items_under=lambda nodes: self.items_under(user, nodes),
            history_fuzzy=lambda words: fuzzy_items(words, self._history_pairs(user)), last_edit=state.last_edit,
        )

    def items_under(self, user: str, nodes: Sequence[str]) -> list[str]:
        """The person's items under any of these nodes, oldest first."""
        rows = [row for row in self.memory.store.user_events(user) if is_behaviour(row.metadata)]
        items = list(dict.fromkeys(str(row.metadata["item"]) for row in sorted(rows, key=lambda r: r.metadata["ts"])))
        entries = self.memory.catalog.entries(items)
        wanted = set(nodes)
        return [item for item in items if item in entries and any(wanted & set(c) for c in entries[item].pairs)]

    def item_titles(self, ids: Sequence[str]) -> dict[str, str]:
        return {item: entry.title for item, entry in self.memory.catalog.entries(ids).items()}

    def state_preference(self, user: str, text: str) -> list[Item]:
        """A preference said in chat ("I like space operas") seeds the short-term interests."""
        vector = self.memory.embedder.embed([text])[0]
        matches = self.memory.nearest_items(vector, STATED_ITEMS, exclude=self.memory.seen_items(user))
        when = self._event_time(user)
        for match in matches:
            self.memory.record(Event(user=user, item=match.item_id, action="stated", timestamp=when))
        found = self.memory.get_items([m.item_id for m in matches])
        return [found[m.item_id] for m in matches if m.item_id in found]

    def recent_items(self, user: str) -> list[Item]:
        """The catalog items of the user's latest events (the short-term window), each once."""
        recent = list(dict.fromkeys(event.item for event in self.memory.recent_events(user)))
        found = self.memory.get_items(recent)
        return [found[item] for item in recent if item in found]

    def find_titles(self, text: str) -> list[str]:
        """Catalog items whose titles ``text`` mentions, longest title first."""
        return mentioned_items(text, self._all_titles())

    def _all_titles(self) -> list[tuple[str, str]]:
        count = self.memory.store.item_count()
        if self._titles is None or self._titles[0] != count:
            self._titles = (count, self.memory.store.all_item_titles())
        return self._titles[1]

    def _catalog_pairs(self, text: str) -> list[tuple[str, str]]:
        found = set(mentioned_items(text, self._all_titles()))
        return [(item, title) for item, title in self._all_titles() if item in found]

    def _history_pairs(self, user: str) -> list[tuple[str, str]]:
        seen = sorted(self.memory.seen_items(user))
        return list(self.item_titles(seen).items())

    def _event_time(self, user: str) -> datetime:
        now = datetime.now(timezone.utc)
        recent = self.memory.recent_events(user)
        if self.settings.agent.event_clock == "wall" or not recent:
            return now
        return datetime.fromtimestamp(max(event.ts for event in recent) + 60.0, tz=timezone.utc)
