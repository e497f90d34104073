"""What the service does with the person's memory edits (a mixin of the service, kept apart so each
file stays small): resolve the topic names, make the edit, clean up after a forget, say what
changed, and describe the memory with the edits in force."""

from __future__ import annotations

from typing import TYPE_CHECKING

from agent.edits import EditOutcome, EditView, edit_views, undone_words
from agent.explain.guards import without_node_ids
from agent.forecast.shown import forecast_paragraph
from memory.editing import EditResult, UnknownNodeError
from memory.edits import EditKind
from memory.models import split_category
from memory.taxonomy import path_chain

if TYPE_CHECKING:
    from agent.chat.sessions import SessionStore
    from agent.profiler import ProfileResult

KNOWN_TOPICS_LISTED = 12


class EditSupport:
    def edit_memory(self, user: str, request) -> EditOutcome:
        """Make one edit (see :mod:`agent.edits`); a refused edit raises and changes nothing."""
        editor, at = self.memory.editor, self._event_time(user).timestamp()
        kind = request.kind
        if kind == "undo":
            result = editor.undo(user, at)
        elif kind in ("fade", "pin", "unpin"):
            nodes = self.topic_nodes(request.topics)
            result = {"fade": editor.fade, "pin": editor.pin, "unpin": editor.unpin}[kind](user, nodes, at)
        elif kind == "forget":
            titles = self.item_titles(request.items)
            result = editor.forget(user, request.items, at)
            self._after_forget(user, request.items, titles)
        else:
            result = editor.not_mine(user, request.items, request.reason, at)
        self.profiler.forget(user)
        return self._outcome(user, result, request)

    def topic_nodes(self, names: list[str]) -> list[str]:
        """Node ids for topic names, paths or ids; an unknown one is refused with the names there are."""
        lexicon = self.lexicon()
        nodes, unknown = [], []
        for name in names:
            node = lexicon.node(name) or self._path_node(name)
            (nodes if node else unknown).append(node or name)
        if unknown:
            known = sorted(self.topic_ids())
            shown = ", ".join(known[:KNOWN_TOPICS_LISTED]) + (", ..." if len(known) > KNOWN_TOPICS_LISTED else "")
            raise UnknownNodeError(f"this catalog has no topic {', '.join(map(repr, unknown))}: name one of its "
                                   f"topics ({shown}; GET /topics lists them)")
        return list(dict.fromkeys(nodes))

    def edit_views(self, user: str) -> list[EditView]:
        """The edits in force, in words (empty for a user with none)."""
        state = self.memory.editor.state(user)
        if state.empty:
            return []
        return edit_views(state, self.lexicon().labels(), self._event_titles(user), self.settings.words.plural)

    def describe_memory(self, user: str) -> tuple[str, ProfileResult | None]:
        """'What do you know about me?': the interests, where they head, and every edit in force, in words."""
        profile = self.profile(user)
        ahead = forecast_paragraph(profile.forecast, profile.track_record)
        text = without_node_ids(f"Here is what I know about you: {profile.profile.profile} {ahead}", profile.labels)
        edits = self.edit_views(user)
        if edits:
            text += " What you changed: " + "; ".join(view.text for view in edits) + \
                ". Say \"undo\" to take back the last change."
        else:
            text += " You have not changed anything; you can say e.g. \"I'm over my ... phase\" or \"pin ...\"."
        return text, profile

    # ---------------------------------------------------------------- internals
    def _outcome(self, user: str, result: EditResult, request) -> EditOutcome:
        edit, labels, plural = result.edit, self.lexicon().labels(), self.settings.words.plural
        names = " and ".join(labels.get(node, node) for node in edit.nodes)
        titles = self.item_titles(getattr(request, "items", []))
        shown = ", ".join(titles.values()) or f"{result.events} events"
        undone = undone_words(result.undone, labels, self._event_titles(user)) if result.undone else None
        shapes, stays, them = ("shapes", "it stays", "it") if len(titles) == 1 else ("shape", "they stay", "them")
        text = {
            EditKind.FADE: f"Done: {names} fades from what I know about you ({result.events} past {plural} count "
                           "less now; your history stays). Say \"undo\" to take it back.",
            EditKind.PIN: f"Pinned: every list will hold some {names}. Say \"unpin {names}\" to stop.",
            EditKind.UNPIN: f"Unpinned {names}: lists no longer have to hold it.",
            EditKind.FORGET: f"Forgotten: {shown} is erased from your history ({result.events} events). This "
                             "cannot be undone.",
            EditKind.NOT_MINE: f"Done: {shown} no longer {shapes} your interests; {stays} in your history. Say "
                               f"\"undo\" to count {them} again.",
            EditKind.UNDO: f"Undone: {undone}." if undone else "Undone.",
        }[edit.kind]
        return EditOutcome(kind=edit.kind, edit_id=edit.id, text=text, version=result.version, events=result.events,
                           undone=undone)

    def _after_forget(self, user: str, items: list[str], titles: dict[str, str]) -> None:
        """The forgotten items leave every stored record that cites them and every chat line that names them."""
        self.records.forget_items(user, set(items))
        sessions: SessionStore = self.conversations.sessions
        named = [title.lower() for title in titles.values() if title]
        for state in sessions.user_sessions(user):
            state.lines = [line for line in state.lines if not any(title in line.content.lower() for title in named)]
            state.last_list = [(item, title) for item, title in state.last_list if item not in items]
            state.last_items = [item for item in state.last_items if item not in items]
            sessions.save(state)

    def _event_titles(self, user: str) -> dict[str, str]:
        """Event id -> its item's title, for naming the events an edit took out."""
        rows = self.memory.store.user_events(user)
        titles = self.item_titles(sorted({str(row.metadata["item"]) for row in rows}))
        return {str(row.metadata["event_id"]): titles.get(str(row.metadata["item"]), "") for row in rows}

    def _path_node(self, name: str) -> str | None:
        parts = split_category(name)
        node = path_chain(parts)[-1] if len(parts) > 1 else None
        return node if node in self.memory.catalog.topics() else None
