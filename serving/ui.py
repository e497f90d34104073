"""The Gradio chat UI: `build_ui(service)` gives the Blocks that serving/app.py mounts at /ui.

Layout and wiring only: what each button does lives in `serving.ui_handlers`, what is
shown in `serving.ui_views`. Cards are a fixed set of slots (hidden when unused) so that
every streamed step updates them like any other output, without custom JavaScript.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from functools import partial

import gradio as gr
import pandas as pd

from agent.service import ShiftRecService
from memory.domain import DomainWords, capitalised
from memory.service import EMPTY_VERSION
from serving.ui_handlers import Screen, UIHandlers
from serving.ui_views import CARD_CSS, PROFILE_CSS, card_html, notice_html, text_markdown

CARD_SLOTS = 10
# demo users offered in the picker when they are in memory (MovieLens-100K ids); any id can be typed
DEMO_USER_CANDIDATES = ("1", "2", "3", "7", "13", "42")


@dataclass
class CardSlot:
    box: gr.Column
    body: gr.HTML
    why: gr.Textbox
    why_button: gr.Button
    up: gr.Button
    down: gr.Button


@dataclass
class Page:
    """The components a handler's `Screen` updates, in output order."""

    chatbot: gr.Chatbot
    history: gr.State
    record: gr.State
    session_id: gr.State
    profile: gr.HTML
    trajectory: gr.LinePlot
    slots: list[CardSlot]

    @property
    def outputs(self) -> list[gr.components.Component]:
        fixed = [self.chatbot, self.history, self.record, self.session_id, self.profile, self.trajectory]
        return fixed + [part for slot in self.slots for part in (slot.box, slot.body, slot.why)]

    def updates(self, screen: Screen) -> list:
        """``screen`` as one value per output; parts it leaves None are skipped."""
        keep = gr.skip()
        history = keep if screen.history is None else list(screen.history)
        values = [history, history]
        values.append(None if screen.clear_cards else keep if screen.record is None else screen.record)
        values.append(keep if screen.session_id is None else screen.session_id)
        values.append(keep if screen.profile is None else screen.profile)
        values.append(keep if screen.trajectory is None else _plot_value(screen.trajectory))
        return values + self._card_updates(screen)

    def _card_updates(self, screen: Screen) -> list:
        updates: list = []
        items = [] if screen.clear_cards or screen.record is None else screen.record.items
        for index in range(len(self.slots)):
            if screen.why is not None:
                shown = screen.why[0] == index
                updates += [gr.skip(), gr.skip(),
                            gr.Textbox(value=screen.why[1], visible=True) if shown else gr.skip()]
            elif screen.clear_cards or screen.record is not None:
                visible = index < len(items)
                body = card_html(items[index]) if visible else ""
                updates += [gr.Column(visible=visible), body, gr.Textbox(value="", visible=False)]
            else:
                updates += [gr.skip()] * 3
        return updates


def build_ui(service: ShiftRecService, demo_users: Sequence[str] | None = None) -> gr.Blocks:
    """The chat, the recommendation cards and the profile panel, all on ``service``."""
    handlers = UIHandlers(service)
    words = service.settings.words
    users = list(demo_users) if demo_users is not None else _known_users(service, DEMO_USER_CANDIDATES)
    with gr.Blocks(title="ShiftRec") as blocks:
        gr.Markdown(title_markdown(words, service.settings.catalog_notice), elem_id="title")
        with gr.Row():
            user = gr.Dropdown(choices=users, value=None, allow_custom_value=True, label="User",
                               info="Pick a demo user or type a user id, then press Enter.", elem_id="user-picker")
        with gr.Row():
            with gr.Column(scale=3):
                chatbot = gr.Chatbot(label="Chat", show_label=False, height=460, latex_delimiters=[],
                                     feedback_options=None, elem_id="chat")
                message = gr.Textbox(placeholder=chat_placeholder(words), show_label=False, submit_btn="Send",
                                     elem_id="chat-input")
            with gr.Column(scale=2, elem_id="cards"):
                gr.Markdown("### Recommendations")
                slots = [_card_slot(index) for index in range(CARD_SLOTS)]
        with gr.Accordion("Your interest profile", open=True, elem_id="profile-panel"):
            profile = gr.HTML(notice_html("Pick a user to see their profile."), css_template=PROFILE_CSS,
                              elem_id="profile")
            gr.Markdown("**Interest trajectory**: strength of your strongest topics over time")
            # no component label: with one, gradio 6.31 cuts the legend off the bottom of the plot
            trajectory = gr.LinePlot(None, x="week", y="strength", color="interest", show_label=False, height=320,
                                     elem_id="trajectory")
        page = Page(chatbot, gr.State([]), gr.State(None), gr.State(""), profile, trajectory, slots)
        _wire(page, handlers, user, message)
    blocks.queue(default_concurrency_limit=16)
    return blocks


def title_markdown(words: DomainWords, notice: str | None = None) -> str:
    """The heading in the catalog's words, and what the data is when that must be said (simulated data)."""
    title = f"## ShiftRec\n{capitalised(words.noun)} picks that follow how your taste moves, each with the reason."
    return title + (f"\n\n_{text_markdown(notice)}_" if notice else "")


def chat_placeholder(words: DomainWords) -> str:
    return f"Something to {words.verb} next? Why the second one?"


def _card_slot(index: int) -> CardSlot:
    with gr.Column(visible=False, elem_classes=["sr-slot"], elem_id=f"card-{index}") as box, gr.Group():
        body = gr.HTML("", css_template=CARD_CSS)
        with gr.Row(equal_height=True):
            why_button = gr.Button("Why?", size="sm", min_width=0, elem_classes=["sr-why"])
            up = gr.Button("Like", size="sm", min_width=0, elem_classes=["sr-up"])  # thumbs up
            down = gr.Button("Dislike", size="sm", min_width=0, elem_classes=["sr-down"])  # thumbs down
        why = gr.Textbox(label="Why?", visible=False, interactive=False, lines=4, elem_classes=["sr-why-answer"])
    return CardSlot(box, body, why, why_button, up, down)


def _wire(page: Page, handlers: UIHandlers, user: gr.Dropdown, message: gr.Textbox) -> None:
    outputs = page.outputs
    stream = partial(_streamed, page)
    user.change(stream(handlers.sign_in), inputs=[user], outputs=outputs, api_name="sign_in")
    sent = gr.State("")  # the message moves here so the box clears while the reply streams
    cleared = message.submit(lambda text: ("", text), inputs=[message], outputs=[message, sent],
                             api_visibility="private")
    cleared.then(
        stream(handlers.chat), inputs=[sent, page.history, user, page.session_id, page.record],
        outputs=outputs, api_name="chat",
    )
    for index, slot in enumerate(page.slots):
        slot.why_button.click(stream(_once(partial(handlers.why, index))), inputs=[page.record, user],
                              outputs=outputs, api_visibility="private")
        for button, positive in ((slot.up, True), (slot.down, False)):
            button.click(stream(partial(handlers.thumb, index, positive)),
                         inputs=[page.record, user, page.history, page.session_id], outputs=outputs,
                         api_visibility="private")


def _streamed(page: Page, handler: Callable[..., Iterator[Screen]]) -> Callable[..., Iterator[list]]:
    """A Gradio generator that turns each `Screen` of ``handler`` into output updates."""

    def run(*inputs):
        for screen in handler(*inputs):
            yield page.updates(screen)

    return run


def _once(handler: Callable[..., Screen]) -> Callable[..., Iterator[Screen]]:
    def run(*inputs):
        yield handler(*inputs)

    return run


def _plot_value(frame: pd.DataFrame) -> pd.DataFrame | None:
    """None clears the plot: a LinePlot once given an empty frame draws no lines for later data (gradio 6.31)."""
    return None if frame.empty else frame


def _known_users(service: ShiftRecService, candidates: Sequence[str]) -> list[str]:
    return [user for user in candidates if service.memory.memory_version(user) != EMPTY_VERSION]
