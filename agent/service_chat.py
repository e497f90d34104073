"""What the chat asks of the service besides recommending: topics and titles it mentions, recent items,
stated preferences and the clock their events are stamped with (a mixin of the service, kept apart so
each file stays small)."""

from __future__ import annotations

from datetime import datetime, timezone

from agent.chat.conversation import Conversations
from agent.chat.mentions import mentioned_items
from agent.settings import AgentConfig
from memory.models import Event, Item
from memory.service import InterestMemory

STATED_ITEMS = 3  # catalog items a stated preference is stored on


class ChatSupport:
    settings: AgentConfig
    memory: InterestMemory
    conversations: Conversations
    _titles: tuple[int, list[tuple[str, str]]] | None = None

    def topic_ids(self) -> dict[str, str]:
        """Top-level topic label -> node id (for filters given by name)."""
        return {node.label: node_id for node_id, node in self.memory.catalog.topics().items() if node.parent is None}

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
        count = self.memory.store.item_count()
        if self._titles is None or self._titles[0] != count:
            self._titles = (count, self.memory.store.all_item_titles())
        return mentioned_items(text, self._titles[1])

    def _event_time(self, user: str) -> datetime:
        now = datetime.now(timezone.utc)
        recent = self.memory.recent_events(user)
        if self.settings.agent.event_clock == "wall" or not recent:
            return now
        return datetime.fromtimestamp(max(event.ts for event in recent) + 60.0, tz=timezone.utc)
